// npm run db: a migrated throwaway server for psql, until Ctrl-C.
import { migrateDatabase } from "./lib/migrate.ts";
import { provisionServer } from "./lib/server.ts";
import { log } from "./lib/log.ts";

const server = await provisionServer();
const stop = async () => {
  log("stopping ...");
  await server.stop();
  process.exit(0);
};
process.once("SIGINT", stop);
process.once("SIGTERM", stop);
try {
  await migrateDatabase(server.url, { quiet: true });
} catch (error) {
  console.error((error as Error).message);
  await server.stop();
  process.exit(1);
}
console.log(`\n  psql ${server.url}\n`);
if (server.socketDir)
  console.log(
    `  (or over the unix socket: psql -h ${server.socketDir} -p ${new URL(server.url).port} -U postgres querybudget)\n`,
  );
log("server is up and migrated; Ctrl-C stops it and removes its data");
setInterval(() => {}, 1 << 30);
