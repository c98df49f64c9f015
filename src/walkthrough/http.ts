/** Minimal JSON-over-HTTP client used by the walkthrough, as any API client would call the service. */
export interface HttpResult {
  status: number;
  contentType: string;
  body: any;
}

export async function http(baseUrl: string, method: string, path: string, opts: { key?: string; body?: unknown } = {}): Promise<HttpResult> {
  const headers: Record<string, string> = {};
  if (opts.key) headers.authorization = `Bearer ${opts.key}`;
  if (opts.body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(baseUrl + path, { method, headers, body: opts.body === undefined ? undefined : JSON.stringify(opts.body) });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    /* not JSON */
  }
  return { status: res.status, contentType: res.headers.get('content-type') ?? '', body };
}
