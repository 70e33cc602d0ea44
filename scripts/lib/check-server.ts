// Checks a server we did not start (DATABASE_URL): version, preloaded libraries,
// extensions. Every problem is named, with how to fix it.
import postgres from "postgres";
import {
  PG_MAJOR,
  PRELOAD_LIBRARIES,
  REQUIRED_EXTENSIONS,
} from "./server-contract.ts";

export interface ServerFacts {
  versionNum: number;
  preloadLibraries: string;
  statementsTrack: string;
  availableExtensions: string[];
}

/** What is wrong with a server for querybudget, each with how to fix it; empty when nothing. */
export function serverProblems(facts: ServerFacts): string[] {
  const problems: string[] = [];
  if (Math.floor(facts.versionNum / 10000) !== PG_MAJOR) {
    problems.push(
      `server version ${facts.versionNum}: querybudget needs PostgreSQL ${PG_MAJOR}`,
    );
  }
  const preload = new Set(
    facts.preloadLibraries
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean),
  );
  const missingPreload = PRELOAD_LIBRARIES.filter((lib) => !preload.has(lib));
  if (missingPreload.length) {
    problems.push(
      `shared_preload_libraries lacks ${missingPreload.join(", ")}: set ` +
        `shared_preload_libraries = '${PRELOAD_LIBRARIES.join(",")}' in postgresql.conf and restart the server`,
    );
  }
  if (preload.has("pg_stat_statements") && facts.statementsTrack !== "all") {
    problems.push(
      "pg_stat_statements.track must be 'all', so statements inside functions are counted",
    );
  }
  const available = new Set(facts.availableExtensions);
  const missingExt = Object.entries(REQUIRED_EXTENSIONS).filter(
    ([name]) => !available.has(name),
  );
  if (missingExt.length) {
    problems.push(
      `extensions not installed on the server: ${missingExt.map(([n]) => n).join(", ")}: ` +
        `on Debian, apt-get install ${[...new Set(missingExt.map(([, pkg]) => pkg))].join(" ")}`,
    );
  }
  return problems;
}

export async function readServerFacts(url: string): Promise<ServerFacts> {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    const [row] = await sql<ServerFacts[]>`
      select current_setting('server_version_num')::int as "versionNum",
             current_setting('shared_preload_libraries') as "preloadLibraries",
             coalesce(current_setting('pg_stat_statements.track', true), '') as "statementsTrack",
             array(select name from pg_available_extensions order by 1) as "availableExtensions"`;
    if (!row) throw new Error("the server answered no row");
    return row;
  } finally {
    await sql.end();
  }
}

/** Throws one readable error naming everything missing. */
export async function checkServer(url: string): Promise<void> {
  const problems = serverProblems(await readServerFacts(url));
  if (problems.length) {
    throw new Error(
      `DATABASE_URL points at a server querybudget cannot use:\n  - ${problems.join("\n  - ")}`,
    );
  }
}
