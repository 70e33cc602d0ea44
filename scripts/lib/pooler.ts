// PgBouncer in transaction pooling mode beside a server of ours: how production reaches the
// database (DESIGN.md "The database it runs on"). A config file and an auth file in a fresh
// temp folder, a free loopback port and a unix socket there, Debian's `pgbouncer` run in the
// foreground as our child; stopped and removed with the server (docs/operations.md "Pooling").
//
//   const pooler = await startPooler(server);                  // server: a Server (server-contract.ts)
//   const sql = postgres(pooler.urlFor(dbUrl, "querybudget_app"), POOLED);  // prepare: false
//   ...
//   await pooler.stop();
//
// Transaction pooling: every transaction may run on another server connection, so nothing a
// session sets (SET, prepared statements, temp tables, advisory locks) may carry from one call
// to the next. The api sets its tenant with set_config(..., true), transaction-local.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdtempSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { createServer, connect } from "node:net";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { log } from "./log.ts";

export const PGBOUNCER = "/usr/sbin/pgbouncer";

/** The roles that log in through the pooler (sql/40_roles.sql), besides the URL's own. */
export const POOLED_ROLES = [
  "querybudget_owner",
  "querybudget_app",
  "querybudget_monitor",
] as const;

/**
 * postgres.js options for a connection through the pooler: no named prepared statements (a
 * prepared statement lives on one server connection; in transaction mode the next call may
 * run on another). For PgBouncer's admin console add `fetch_types: false` (it answers simple
 * queries only) and send `.simple()` queries.
 */
export const POOLED = {
  prepare: false,
  onnotice: () => {},
} as const;

/**
 * The pool settings, derived from the seeds' (docs/operations.md "Pooling" says why each):
 * SQLAlchemy pool_size 10 + max_overflow 20 per application process, pool_timeout 30 s,
 * pool_recycle 3600 s, "100+ concurrent connections".
 */
export interface PoolSettings {
  /** Server connections per (database, role): about 2 per core run the CPU full; more only queue inside the server. */
  default_pool_size: number;
  /** Extra server connections a pool may open when a client has waited reserve_pool_timeout (the seeds' max_overflow). */
  reserve_pool_size: number;
  reserve_pool_timeout: number;
  /** Client connections PgBouncer accepts: the seeds' "100+" with room for `npm run load --clients 500`. */
  max_client_conn: number;
  /** Server connections per database over every role: under the server's max_connections (200) with room for the rest. */
  max_db_connections: number;
  /** Seconds a client may wait for a server connection before it gets an error (the seeds' pool_timeout). */
  query_wait_timeout: number;
  /** Seconds after which a server connection is closed once free (the seeds' pool_recycle). */
  server_lifetime: number;
  /** Seconds a free server connection is kept. */
  server_idle_timeout: number;
}

export function poolSettings(cores = availableParallelism()): PoolSettings {
  const size = Math.max(4, 2 * cores);
  return {
    default_pool_size: size,
    reserve_pool_size: size,
    reserve_pool_timeout: 3,
    max_client_conn: 1000,
    max_db_connections: 100,
    query_wait_timeout: 30,
    server_lifetime: 3600,
    server_idle_timeout: 600,
  };
}

export interface Pooler {
  /** 127.0.0.1 */
  host: string;
  port: number;
  /** The unix socket folder (`.s.PGSQL.<port>` in it). */
  socketDir: string;
  settings: PoolSettings;
  /** A server URL (any database, any role) rewritten to go through the pooler: same database, `role` if given. */
  urlFor(url: string, role?: string): string;
  /** What PgBouncer wrote (its log goes to stderr). */
  log(): string;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const address = probe.address();
      probe.close(() =>
        typeof address === "object" && address
          ? resolve(address.port)
          : reject(new Error("no port")),
      );
    });
  });
}

/** PgBouncer refuses to run as root: then it runs as the postgres OS user (as the throwaway cluster does). */
function runAsUser(): { name: string; uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const id = (flag: string) =>
    Number(
      spawnSync("id", [flag, "postgres"], { encoding: "utf8" }).stdout.trim(),
    );
  const uid = id("-u");
  if (!Number.isInteger(uid) || uid <= 0)
    throw new Error(
      "running as root, but there is no 'postgres' OS user to run pgbouncer as",
    );
  return { name: "postgres", uid, gid: id("-g") };
}

const quoteAuth = (s: string) => `"${s.replaceAll('"', '""')}"`;

export interface PoolerTarget {
  /** The server's URL: its user and password are the ones PgBouncer logs in with for that user. */
  url: string;
  /** Connect to the server over this unix socket folder rather than the URL's host (the throwaway cluster's). */
  socketDir?: string;
}

/**
 * Starts PgBouncer in front of `target`. Clients are trusted (it listens on loopback and a
 * socket in a private folder only, like the throwaway cluster); the server sees PgBouncer log
 * in as the client's role, with the password from the auth file (the target URL's for its
 * user, none for our roles: the throwaway cluster trusts local logins).
 */
export async function startPooler(
  target: PoolerTarget,
  settings: PoolSettings = poolSettings(),
): Promise<Pooler> {
  if (!existsSync(PGBOUNCER))
    throw new Error(
      `${PGBOUNCER} not found: install Debian's pgbouncer (node scripts/bootstrap.mjs does, as root)`,
    );
  const user = runAsUser();
  const dir = mkdtempSync(join(tmpdir(), "querybudget-pgbouncer-"));
  if (user) {
    chmodSync(dir, 0o700);
    chownSync(dir, user.uid, user.gid);
  }
  const server = new URL(target.url);
  const serverHost = target.socketDir ?? server.hostname;
  const serverPort = Number(server.port || 5432);
  const port = await freePort();
  const owner = decodeURIComponent(server.username || "postgres");
  const users = new Map<string, string>([
    [owner, decodeURIComponent(server.password)],
  ]);
  for (const role of POOLED_ROLES) if (!users.has(role)) users.set(role, "");
  const authFile = join(dir, "userlist.txt");
  writeFileSync(
    authFile,
    [...users].map(([u, p]) => `${quoteAuth(u)} ${quoteAuth(p)}`).join("\n") +
      "\n",
    { mode: 0o600 },
  );
  const ini = join(dir, "pgbouncer.ini");
  const lines = [
    "; written by querybudget (scripts/lib/pooler.ts) for a throwaway server",
    "[databases]",
    // any database name: the same name on the server (test files make databases of their own)
    `* = host=${serverHost} port=${serverPort}`,
    "[pgbouncer]",
    "listen_addr = 127.0.0.1",
    `listen_port = ${port}`,
    `unix_socket_dir = ${dir}`,
    "auth_type = trust",
    `auth_file = ${authFile}`,
    `admin_users = ${owner}`,
    `stats_users = ${owner}`,
    "pool_mode = transaction",
    ...Object.entries(settings).map(([k, v]) => `${k} = ${v}`),
    // JDBC and psycopg send it at connect; harmless to ignore
    "ignore_startup_parameters = extra_float_digits",
    "log_connections = 0",
    "log_disconnections = 0",
    "log_stats = 0",
  ];
  writeFileSync(ini, lines.join("\n") + "\n");
  if (user) {
    chownSync(authFile, user.uid, user.gid);
    chownSync(ini, user.uid, user.gid);
  }

  let output = "";
  const child: ChildProcess = spawn(
    PGBOUNCER,
    [...(user ? ["-u", user.name] : []), ini],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  const collect = (chunk: Buffer) => {
    output += chunk.toString();
    if (output.length > 1_000_000) output = output.slice(-500_000);
  };
  child.stdout?.on("data", collect);
  child.stderr?.on("data", collect);
  const running = () => child.exitCode === null && child.signalCode === null;

  let stopped = false;
  const removeNow = () => {
    if (stopped) return;
    stopped = true;
    if (running()) child.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  };
  process.once("exit", removeNow);

  const deadline = performance.now() + 10_000;
  for (;;) {
    if (!running()) {
      removeNow();
      throw new Error(`pgbouncer exited during start-up:\n${output}`);
    }
    if (await accepts(port)) break;
    if (performance.now() > deadline) {
      removeNow();
      throw new Error(`pgbouncer did not listen within 10 s:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  log(
    `pgbouncer (transaction pooling, ${settings.default_pool_size} server connections per database and role) on 127.0.0.1:${port}`,
  );

  return {
    host: "127.0.0.1",
    port,
    socketDir: dir,
    settings,
    urlFor(url: string, role?: string) {
      const u = new URL(url);
      u.hostname = "127.0.0.1";
      u.port = String(port);
      u.search = "";
      if (role) {
        u.username = role;
        u.password = "";
      }
      return u.toString();
    },
    log: () => output,
    async stop() {
      if (stopped) return;
      if (running()) {
        const exited = new Promise((r) => child.once("exit", r));
        child.kill("SIGTERM"); // immediate shutdown: open client connections are closed
        const timeout = setTimeout(() => child.kill("SIGKILL"), 3000);
        await exited;
        clearTimeout(timeout);
      }
      removeNow();
      process.removeListener("exit", removeNow);
    },
  };
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}
