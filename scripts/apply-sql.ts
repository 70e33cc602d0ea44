// graphile-migrate's afterAllMigrations command: applies functions/ and sql/ to GM_DBURL.
import postgres from "postgres";
import { applyIdempotentSql } from "./lib/sql-files.ts";

const url = process.env.GM_DBURL;
if (!url) {
  console.error(
    "apply-sql: GM_DBURL is not set; this script is run by graphile-migrate (npm run migrate)",
  );
  process.exit(2);
}
const sql = postgres(url, { max: 1, onnotice: () => {} });
try {
  const files = await applyIdempotentSql(sql);
  console.log(`applied ${files.length} idempotent SQL files`);
} catch (error) {
  console.error((error as Error).message);
  process.exitCode = 1;
} finally {
  await sql.end();
}
