#!/usr/bin/env node
// The dependency-free first step of every npm script: it installs what the rest needs
// (node_modules, the PostgreSQL 15 packages) before any of our TypeScript is loaded.
// Plain Node only: nothing here may import a package.
import { execFileSync, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const PG_MAJOR = 15;
const pgBin = `/usr/lib/postgresql/${PG_MAJOR}/bin`;
const extDir = `/usr/share/postgresql/${PG_MAJOR}/extension`;

// What a server of ours needs, as Debian packages, and a file that shows each is installed.
const serverPackages = [
  ["postgresql-15", `${pgBin}/postgres`],
  ["postgresql-contrib", `${extDir}/pg_stat_statements.control`],
  ["postgresql-15-cron", `${extDir}/pg_cron.control`],
  ["postgresql-15-pgtap", `${extDir}/pgtap.control`],
  ["postgresql-15-hypopg", `${extDir}/hypopg.control`],
  ["postgresql-15-partman", `${extDir}/pg_partman.control`],
  // the pooler the load test and `npm run load` put in front of the server (scripts/lib/pooler.ts)
  ["pgbouncer", "/usr/sbin/pgbouncer"],
  // the browser the dashboard's end-to-end tests drive headless (test/dashboard.test.ts)
  ["chromium", "/usr/bin/chromium"],
  // counts a call's CPU instructions in a single-user backend (scripts/lib/instructions.ts)
  ["valgrind", "/usr/bin/valgrind"],
];
// With DATABASE_URL the server is someone else's; we still run psql and pg_dump here.
// PgBouncer runs here too, in front of that server.
const clientPackages = [
  ["postgresql-client-15", `${pgBin}/psql`],
  ["pgbouncer", "/usr/sbin/pgbouncer"],
  ["chromium", "/usr/bin/chromium"],
];

// `npm test` (--container) also exercises the container path (test/container.test.ts): where no
// engine answers, the harness starts Debian's dockerd itself, and where no registry answers it
// makes the base image with debootstrap. Both are installed here, as root on Debian only;
// elsewhere that test says what is missing.
const containerPackages = [
  ["docker.io", "/usr/sbin/dockerd"],
  ["debootstrap", "/usr/sbin/debootstrap"],
];
const withContainer = process.argv.includes("--container");

function say(msg) {
  process.stderr.write(`[bootstrap] ${msg}\n`);
}

function ensureNodeModules() {
  const lock = readFileSync(join(root, "package-lock.json"));
  const want = createHash("sha256").update(lock).digest("hex");
  const stamp = join(root, "node_modules", ".querybudget-lock-sha256");
  if (existsSync(stamp) && readFileSync(stamp, "utf8") === want) return;
  // `npm install`, not `npm ci`: both install the versions package-lock.json pins, but `npm ci`
  // refuses a lock that lacks the optional per-platform packages a registry does not serve
  // (squawk-cli's builds for other systems), where `npm install` skips them as optional.
  say(
    "installing node_modules (npm install, the versions of package-lock.json) ...",
  );
  const r = spawnSync("npm", ["install", "--no-audit", "--no-fund"], {
    cwd: root,
    stdio: "inherit",
  });
  if (r.status !== 0) {
    say("npm install failed; fix the error above and run the command again.");
    process.exit(r.status ?? 1);
  }
  writeFileSync(stamp, want);
}

/** The container packages to install: only as root on Debian, and docker.io only when no engine is there. */
function containerPackagesWanted() {
  if (!withContainer || process.getuid?.() !== 0) return [];
  if (!existsSync("/usr/bin/apt-get")) return [];
  const userEngine =
    process.env.DOCKER_HOST || existsSync("/var/run/docker.sock");
  return containerPackages.filter(
    ([pkg]) => pkg !== "docker.io" || !userEngine,
  );
}

function ensureDebianPackages() {
  const wanted = [
    ...(process.env.DATABASE_URL ? clientPackages : serverPackages),
    ...containerPackagesWanted(),
  ];
  const missing = [
    ...new Set(
      wanted.filter(([, file]) => !existsSync(file)).map(([pkg]) => pkg),
    ),
  ];
  if (missing.length === 0) return;
  const command = `apt-get update && apt-get install -y ${missing.join(" ")}`;
  const isRoot = process.getuid?.() === 0;
  const hasApt = existsSync("/usr/bin/apt-get");
  if (!isRoot || !hasApt) {
    say(`missing PostgreSQL packages: ${missing.join(", ")}.`);
    say(
      hasApt
        ? `run as root:\n\n    sudo sh -c '${command}'\n`
        : `this is not a Debian system: install PostgreSQL ${PG_MAJOR} with pg_cron, pgTAP, hypopg and pg_partman, ` +
            `or point DATABASE_URL at a server that has them (see README.md).`,
    );
    process.exit(1);
  }
  say(`installing ${missing.join(", ")} with apt-get ...`);
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  // another apt-get on the machine holds the lock for a while: wait for it, not fail
  const lock = ["-o", "DPkg::Lock::Timeout=600"];
  // docker.io's install would start dockerd on the default socket where no policy forbids it:
  // the harness starts its own when it needs one, on a socket of its own.
  const policy = "/usr/sbin/policy-rc.d";
  const ownPolicy = missing.includes("docker.io") && !existsSync(policy);
  if (ownPolicy)
    writeFileSync(policy, "#!/bin/sh\nexit 101\n", { mode: 0o755 });
  try {
    execFileSync("apt-get", [...lock, "update", "-qq"], {
      stdio: "inherit",
      env,
    });
    execFileSync("apt-get", [...lock, "install", "-y", "-qq", ...missing], {
      stdio: "inherit",
      env,
    });
  } finally {
    if (ownPolicy) rmSync(policy, { force: true });
  }
}

ensureNodeModules();
ensureDebianPackages();
