// The server settings querybudget starts its own servers with, in one place: the throwaway
// local cluster (cluster.ts) writes them into postgresql.auto.conf, and the container image
// (docker/Dockerfile) includes docker/querybudget.conf, which is rendered from the same lists
// (`npm run docs:generate`; test/docs-generated.test.ts fails when it is stale).
//
// Three groups, because they go to different places:
// - IMAGE_SETTINGS: what the server needs (preloaded libraries, statement tracking, pg_cron's
//   database) and how it is sized. Both the local cluster and the image.
// - TEST_ONLY_SPEED: trade crash safety for speed. Never in the image: the local cluster writes
//   them into its own throwaway configuration, the container path passes them as `-c` options
//   when it starts a throwaway container.
// - where the local cluster listens (port, socket folder), in cluster.ts.
import { MAIN_DATABASE, PRELOAD_LIBRARIES } from "./server-contract.ts";

/** A postgresql.conf value as it appears in the file: strings quoted (`"'on'"`), bare words and numbers not. */
export type ConfValue = string | number;

/** What every server querybudget starts needs, and its sizing: the local cluster and the image. */
export const IMAGE_SETTINGS: Record<string, ConfValue> = {
  max_connections: 200,
  shared_preload_libraries: `'${PRELOAD_LIBRARIES.join(",")}'`,
  "pg_stat_statements.track": "all",
  // every test file has its own database (its own dbid, so its own entries), and track = all
  // counts nested statements: 10,000 entries were evicted mid-test once the write api came
  "pg_stat_statements.max": 50000,
  // per-function calls and times (pg_stat_user_functions) for perf.take_snapshot's routine
  // history (docs/monitoring.md "History"); off by default in PostgreSQL
  track_functions: "'all'",
  "cron.database_name": `'${MAIN_DATABASE}'`,
  "cron.use_background_workers": "on",
  max_worker_processes: 32,
  shared_buffers: "'1GB'",
  work_mem: "'16MB'",
  maintenance_work_mem: "'512MB'",
  max_wal_size: "'8GB'",
  checkpoint_timeout: "'30min'",
  timezone: "'UTC'",
  log_min_messages: "warning",
};

/**
 * TEST-ONLY speed settings: they trade crash safety for speed and must never reach a real
 * server. Only throwaway servers get them (never the image's configuration).
 */
export const TEST_ONLY_SPEED: Record<string, ConfValue> = {
  fsync: "off",
  synchronous_commit: "off",
  full_page_writes: "off",
  // No replication from a throwaway server: bulk loads write far less WAL.
  wal_level: "minimal",
  max_wal_senders: 0,
};

/** Settings as postgresql.conf lines. */
export function confLines(settings: Record<string, ConfValue>): string[] {
  return Object.entries(settings).map(([k, v]) => `${k} = ${v}`);
}

/** Settings as `postgres -c name=value` options (the quotes a file needs dropped). */
export function commandLineOptions(
  settings: Record<string, ConfValue>,
): string[] {
  return Object.entries(settings).flatMap(([k, v]) => [
    "-c",
    `${k}=${String(v).replace(/^'(.*)'$/, "$1")}`,
  ]);
}

/** docker/querybudget.conf, the image's settings: IMAGE_SETTINGS plus listening on every address. */
export function imageConf(): string {
  return [
    "# Generated from scripts/lib/server-settings.ts by `npm run docs:generate`; do not edit.",
    "# The container image includes it from postgresql.conf (docker/entrypoint.sh).",
    "# The test-only speed settings are not here: the harness passes them when it starts a",
    "# throwaway container.",
    "listen_addresses = '*'",
    ...confLines(IMAGE_SETTINGS),
    "",
  ].join("\n");
}
