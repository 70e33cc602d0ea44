// npm run migration:commit -- [-m "message"]: graphile-migrate's `commit` against a throwaway
// server. It resets a shadow database, replays the committed migrations and then
// migrations/current.sql, and on success writes it as the next immutable committed migration.
import { $ } from "zx";
import { provisionServer } from "./lib/server.ts";
import { withDatabase } from "./lib/server-contract.ts";
import { ROOT } from "./lib/sql-files.ts";

const server = await provisionServer();
try {
  $.cwd = ROOT;
  $.env = {
    ...process.env,
    DATABASE_URL: server.url,
    SHADOW_DATABASE_URL: withDatabase(server.url, "querybudget_shadow"),
    ROOT_DATABASE_URL: server.adminUrl,
  };
  await $({
    stdio: "inherit",
  })`graphile-migrate commit ${process.argv.slice(2)}`;
} finally {
  await server.stop();
}
