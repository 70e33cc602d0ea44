// A container engine for the container path: the user's own if one answers (DOCKER_HOST, or
// the default socket), otherwise one the harness starts itself: Debian's dockerd (package
// docker.io, which scripts/bootstrap.mjs installs for `npm test` as root on Debian), on a
// socket of its own, so that nothing else on the machine mistakes it for the user's engine.
//
// A harness engine is shared by the runs that use it at the same time (each registers a lease,
// a file named by its process id) and stopped by the last one to leave, whichever run started
// it: an engine left by a run that died is reused and then stopped by the next run.
import { spawn, spawnSync } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { request } from "node:http";
import { join } from "node:path";
import { elapsed, log } from "./log.ts";

/** Where the harness engine keeps its socket, pid file, leases and log (tmpfs: gone at reboot). */
export const HARNESS_RUN_DIR = "/run/querybudget-docker";
/** Its images and build cache, kept across runs (the base image and the built image). */
export const HARNESS_DATA_ROOT = "/var/lib/querybudget-docker";
export const HARNESS_DOCKER_HOST = `unix://${HARNESS_RUN_DIR}/docker.sock`;
const PIDFILE = join(HARNESS_RUN_DIR, "dockerd.pid");
const LEASES = join(HARNESS_RUN_DIR, "leases");
const LOCK = join(HARNESS_RUN_DIR, "lock");
export const HARNESS_LOG = join(HARNESS_RUN_DIR, "dockerd.log");

export interface Engine {
  /** The DOCKER_HOST value to reach it. */
  host: string;
  /** true: the harness's own dockerd (this run or an earlier one started it). */
  harness: boolean;
  /** true: this run started dockerd. */
  startedHere: boolean;
  /**
   * Leaves it: the last run to leave a harness engine stops it. Says what became of it:
   * "stopped", "left running" (other runs still use it) or "not ours" (the user's engine).
   */
  release(): Promise<"stopped" | "left running" | "not ours">;
}

/** GET /_ping on a DOCKER_HOST (unix:// or tcp://), true on "OK" within the timeout. */
export function engineAnswers(
  host: string,
  timeoutMs = 3000,
): Promise<boolean> {
  return new Promise((resolve) => {
    let target: { socketPath: string } | { host: string; port: number };
    if (host.startsWith("unix://")) {
      const socketPath = host.slice("unix://".length);
      if (!existsSync(socketPath)) return resolve(false);
      target = { socketPath };
    } else if (host.startsWith("tcp://")) {
      const u = new URL(host.replace(/^tcp:/, "http:"));
      target = { host: u.hostname, port: Number(u.port || 2375) };
    } else {
      return resolve(false);
    }
    const req = request(
      { ...target, path: "/_ping", method: "GET", timeout: timeoutMs },
      (res) => {
        let body = "";
        res.on("data", (c: Buffer) => (body += c.toString()));
        res.on("end", () => resolve(res.statusCode === 200 && body === "OK"));
      },
    );
    req.on("timeout", () => req.destroy());
    req.on("error", () => resolve(false));
    req.end();
  });
}

/** The user's engine, if one answers: DOCKER_HOST, else the default socket. */
export async function userEngineHost(): Promise<string | undefined> {
  const host = process.env.DOCKER_HOST || "unix:///var/run/docker.sock";
  return (await engineAnswers(host)) ? host : undefined;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** A mutex between runs on this machine: mkdir is atomic. Stale after 60 s (its holder died). */
async function withLock<T>(fn: () => Promise<T>): Promise<T> {
  mkdirSync(HARNESS_RUN_DIR, { recursive: true });
  const deadline = performance.now() + 120_000;
  for (;;) {
    try {
      mkdirSync(LOCK);
      writeFileSync(join(LOCK, "pid"), String(process.pid));
      break;
    } catch {
      let holder = 0;
      try {
        holder = Number(readFileSync(join(LOCK, "pid"), "utf8"));
      } catch {
        // being written or removed
      }
      if ((holder > 0 && !alive(holder)) || performance.now() > deadline)
        rmSync(LOCK, { recursive: true, force: true });
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(LOCK, { recursive: true, force: true });
  }
}

/** Leases of runs that are still alive (those of dead runs are removed). */
function liveLeases(): number[] {
  if (!existsSync(LEASES)) return [];
  const live: number[] = [];
  for (const name of readdirSync(LEASES)) {
    const pid = Number(name);
    if (Number.isInteger(pid) && alive(pid)) live.push(pid);
    else rmSync(join(LEASES, name), { force: true });
  }
  return live;
}

/** overlay2 where the kernel mounts overlayfs on the data folder's file system, vfs (a full copy per layer) otherwise. */
function storageDriver(): string {
  const forced = process.env.QB_DOCKER_STORAGE_DRIVER;
  if (forced) return forced;
  mkdirSync(HARNESS_DATA_ROOT, { recursive: true });
  const dir = mkdtempSync(join(HARNESS_DATA_ROOT, "overlay-probe-"));
  try {
    for (const d of ["l", "u", "w", "m"]) mkdirSync(join(dir, d));
    const opts = `lowerdir=${dir}/l,upperdir=${dir}/u,workdir=${dir}/w`;
    const r = spawnSync("mount", [
      "-t",
      "overlay",
      "overlay",
      "-o",
      opts,
      join(dir, "m"),
    ]);
    if (r.status !== 0) return "vfs";
    spawnSync("umount", [join(dir, "m")]);
    return "overlay2";
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function dockerdPath(): string | undefined {
  return ["/usr/sbin/dockerd", "/usr/bin/dockerd"].find((p) => existsSync(p));
}

async function startDockerd(): Promise<void> {
  const dockerd = dockerdPath();
  const isRoot = process.getuid?.() === 0;
  if (!dockerd || !isRoot) {
    throw new Error(
      "no container engine answers (DOCKER_HOST or /var/run/docker.sock), and the harness cannot start one: " +
        (isRoot
          ? "dockerd is not installed (Debian: apt-get install docker.io; npm test installs it as root)"
          : "starting dockerd needs root") +
        ". Start Docker, or leave QB_SERVER unset (the local cluster).",
    );
  }
  const started = performance.now();
  const driver = storageDriver();
  mkdirSync(join(HARNESS_RUN_DIR, "exec"), { recursive: true });
  const out = openSync(HARNESS_LOG, "a");
  // Detached: it outlives this run if this run dies; the next run reuses it and stops it.
  const child = spawn(
    dockerd,
    [
      "-H",
      HARNESS_DOCKER_HOST,
      "--data-root",
      HARNESS_DATA_ROOT,
      "--exec-root",
      join(HARNESS_RUN_DIR, "exec"),
      "--pidfile",
      PIDFILE,
      "--storage-driver",
      driver,
    ],
    { detached: true, stdio: ["ignore", out, out] },
  );
  child.unref();
  log(
    `no container engine answers: started dockerd (storage driver ${driver}), log in ${HARNESS_LOG} ...`,
  );
  const deadline = performance.now() + 60_000;
  while (!(await engineAnswers(HARNESS_DOCKER_HOST))) {
    if (child.exitCode !== null || performance.now() > deadline) {
      const tail = existsSync(HARNESS_LOG)
        ? readFileSync(HARNESS_LOG, "utf8").split("\n").slice(-15).join("\n")
        : "";
      throw new Error(
        `dockerd did not answer on ${HARNESS_DOCKER_HOST}:\n${tail}`,
      );
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  log(`dockerd answers on ${HARNESS_DOCKER_HOST}, ${elapsed(started)}`);
}

async function stopDockerd(): Promise<void> {
  let pid = 0;
  try {
    pid = Number(readFileSync(PIDFILE, "utf8"));
  } catch {
    // gone already
  }
  if (pid > 0 && alive(pid)) {
    process.kill(pid, "SIGTERM");
    const deadline = performance.now() + 30_000;
    while (alive(pid) && performance.now() < deadline)
      await new Promise((r) => setTimeout(r, 100));
    if (alive(pid)) process.kill(pid, "SIGKILL");
  }
  log("dockerd stopped (the harness had started it, and no other run uses it)");
}

/**
 * An engine to run the container path on: the user's if one answers, else the harness's own
 * (started if need be). Release it when done.
 */
export async function acquireEngine(): Promise<Engine> {
  const user = await userEngineHost();
  if (user)
    return {
      host: user,
      harness: false,
      startedHere: false,
      release: async () => "not ours" as const,
    };
  if (process.env.DOCKER_HOST)
    throw new Error(`DOCKER_HOST=${process.env.DOCKER_HOST} does not answer`);
  let startedHere = false;
  await withLock(async () => {
    if (!(await engineAnswers(HARNESS_DOCKER_HOST))) {
      await startDockerd();
      startedHere = true;
    }
    mkdirSync(LEASES, { recursive: true });
    writeFileSync(join(LEASES, String(process.pid)), "");
  });
  let released: Promise<"stopped" | "left running"> | undefined;
  return {
    host: HARNESS_DOCKER_HOST,
    harness: true,
    startedHere,
    release: () =>
      (released ??= withLock(async () => {
        rmSync(join(LEASES, String(process.pid)), { force: true });
        const others = liveLeases();
        if (others.length > 0) {
          log(`dockerd left running: runs ${others.join(", ")} still use it`);
          return "left running" as const;
        }
        await stopDockerd();
        return "stopped" as const;
      })),
  };
}

/** The harness dockerd's process id while it runs, for tests. */
export function harnessDockerdPid(): number | undefined {
  try {
    const pid = Number(readFileSync(PIDFILE, "utf8"));
    return pid > 0 && alive(pid) ? pid : undefined;
  } catch {
    return undefined;
  }
}
