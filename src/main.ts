/**
 * API process entry point. Configuration is validated first; any start-up failure (bad setting,
 * unreachable database, wrong HSM PIN, ...) ends the process with one line that names the cause.
 */
import { loadConfig } from './config/config.js';
import { createApp } from './app.js';
import { describeStartupError } from './common/startup-error.js';

async function main(): Promise<void> {
  const config = loadConfig();
  const app = await createApp(config);
  await app.listen(config.PORT, config.HOST);
  const url = `http://${config.HOST}:${config.PORT}`;
  console.log(`privacy-service: API ${url}  docs ${url}/docs`);
}

main().catch((e: unknown) => {
  console.error(`privacy-service: ${describeStartupError(e)}`);
  process.exit(1);
});
