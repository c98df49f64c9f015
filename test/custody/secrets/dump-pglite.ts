/**
 * A test program, run as its own process on a stopped service's PGlite folder: prints every row of
 * every table in every schema (the service's tables, the audit log, the job queue) as
 * PostgreSQL's text form, one JSON array of lines.
 */
import { PGlite } from '@electric-sql/pglite';

const db = await PGlite.create(process.argv[2]!);
const { rows: tables } = await db.query<{ s: string; t: string }>(
  `SELECT table_schema AS s, table_name AS t FROM information_schema.tables WHERE table_type = 'BASE TABLE' AND table_schema NOT IN ('pg_catalog', 'information_schema')`,
);
const dump: string[] = [];
for (const { s, t } of tables) {
  const { rows } = await db.query<{ row: string }>(`SELECT x::text AS row FROM "${s}"."${t}" x`);
  for (const r of rows) dump.push(`${s}.${t}: ${r.row}`);
}
process.stdout.write(JSON.stringify({ tables: tables.map((x) => `${x.s}.${x.t}`), dump }));
await db.close();
