// The image of the container path: docker/Dockerfile on a Debian bookworm base.
//
// The base is debian:bookworm-slim when the engine has it or a registry gives it. Where no
// registry answers, the harness makes one from Debian's packages, once per engine:
// `debootstrap --variant=minbase bookworm` into a temp folder (about 45 s), its apt sources
// set to bookworm, bookworm-updates and bookworm-security as in debian:bookworm-slim, then
// `docker import` as querybudget/debian:bookworm-minbase. The build then gets it as the
// BASE_IMAGE argument; the official tag is never shadowed.
//
// The build uses the classic builder (what the docker.io 20.10 engine of Debian has built in,
// and what every engine still offers) with its layer cache: a second build of an unchanged
// Dockerfile takes a second or two. `--force-rm` leaves no intermediate container behind when
// a step fails, and the image a rebuild replaces is pruned (dangling images of our label).
import { spawn, spawnSync } from "node:child_process";
import {
  existsSync,
  mkdtempSync,
  rmSync,
  unlinkSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { elapsed, log } from "./log.ts";
import { ROOT } from "./sql-files.ts";

export const IMAGE = "querybudget-postgres:15";
export const IMAGE_LABEL = "org.querybudget.image=postgres";
export const OFFICIAL_BASE = "debian:bookworm-slim";
export const MADE_BASE = "querybudget/debian:bookworm-minbase";
const MIRROR = process.env.QB_DEBIAN_MIRROR ?? "http://deb.debian.org/debian";
const SECURITY_MIRROR =
  process.env.QB_DEBIAN_SECURITY_MIRROR ??
  "http://deb.debian.org/debian-security";

/** The docker CLI against an engine; output captured. */
export function docker(
  host: string,
  args: string[],
  timeoutMs = 60_000,
): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync("docker", args, {
    env: { ...process.env, DOCKER_HOST: host },
    encoding: "utf8",
    timeout: timeoutMs,
    maxBuffer: 64 * 1024 * 1024,
  });
  return {
    status: r.status,
    stdout: r.stdout ?? "",
    stderr: r.stderr ?? r.error?.message ?? "",
  };
}

/** Runs a command, its output lines passed to `line`; rejects on a non-zero exit. */
function run(
  command: string,
  args: string[],
  options: { env?: NodeJS.ProcessEnv; cwd?: string; line: (l: string) => void },
): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let tail: string[] = [];
    const feed = (chunk: Buffer) => {
      for (const l of chunk.toString().split("\n")) {
        if (!l.trim()) continue;
        tail = [...tail.slice(-30), l];
        options.line(l);
      }
    };
    child.stdout.on("data", feed);
    child.stderr.on("data", feed);
    child.on("error", reject);
    child.on("close", (code) =>
      code === 0
        ? resolve()
        : reject(
            new Error(
              `${command} ${args.join(" ")} failed (${code}):\n${tail.join("\n")}`,
            ),
          ),
    );
  });
}

const hasImage = (host: string, ref: string) =>
  docker(host, ["image", "inspect", "--format", "{{.Id}}", ref]).status === 0;

/** The base image's reference: the official one if it can be had, else the one made here. */
export async function ensureBaseImage(host: string): Promise<string> {
  if (hasImage(host, OFFICIAL_BASE)) return OFFICIAL_BASE;
  if (hasImage(host, MADE_BASE)) return MADE_BASE;
  log(`pulling ${OFFICIAL_BASE} ...`);
  const pull = docker(host, ["pull", "--quiet", OFFICIAL_BASE], 120_000);
  if (pull.status === 0) return OFFICIAL_BASE;
  log(
    `no registry answers (${pull.stderr.trim().split("\n").pop()}): making ${MADE_BASE} from Debian's packages, once`,
  );
  await makeBaseImage(host);
  return MADE_BASE;
}

/** debootstrap --variant=minbase bookworm, then docker import (needs root and debootstrap). */
async function makeBaseImage(host: string): Promise<void> {
  const debootstrap = ["/usr/sbin/debootstrap", "/usr/bin/debootstrap"].find(
    (p) => existsSync(p),
  );
  if (!debootstrap || process.getuid?.() !== 0)
    throw new Error(
      `cannot make the base image: ${debootstrap ? "debootstrap needs root" : "debootstrap is not installed (apt-get install debootstrap)"}; ` +
        `or give the engine ${OFFICIAL_BASE} (docker pull, docker load)`,
    );
  const started = performance.now();
  const dir = mkdtempSync("/var/tmp/querybudget-rootfs-");
  const rootfs = join(dir, "rootfs");
  try {
    let packages = 0;
    await run(debootstrap, ["--variant=minbase", "bookworm", rootfs, MIRROR], {
      line: (l) => {
        // "I: Retrieving libc6 2.36-9", "I: Unpacking ...", "I: Configuring ..."
        if (/^I: Retrieving /.test(l) && ++packages % 25 !== 0) return;
        if (
          /^I: (Retrieving|Validating|Extracting|Unpacking|Configuring) [a-z0-9]/.test(
            l,
          )
        ) {
          if (/^I: Retrieving /.test(l))
            log(`  debootstrap: ${packages} packages retrieved ...`);
          return;
        }
        log(`  debootstrap: ${l.replace(/^I: /, "")}`);
      },
    });
    // what debian:bookworm-slim has: the three suites, no package cache, no lists
    rmSync(join(rootfs, "etc/apt/sources.list"), { force: true });
    writeFileSync(
      join(rootfs, "etc/apt/sources.list.d/debian.sources"),
      [
        `Types: deb\nURIs: ${MIRROR}\nSuites: bookworm bookworm-updates\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n`,
        `Types: deb\nURIs: ${SECURITY_MIRROR}\nSuites: bookworm-security\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n`,
      ].join("\n"),
    );
    spawnSync("sh", [
      "-c",
      `rm -rf "${rootfs}"/var/cache/apt/archives/*.deb "${rootfs}"/var/lib/apt/lists/*`,
    ]);
    log(`  importing the root file system as ${MADE_BASE} ...`);
    const tar = join(dir, "rootfs.tar");
    await run("tar", ["-C", rootfs, "-cf", tar, "."], { line: () => {} });
    await run(
      "docker",
      ["import", "--change", 'CMD ["bash"]', tar, MADE_BASE],
      { env: { ...process.env, DOCKER_HOST: host }, line: () => {} },
    );
    unlinkSync(tar);
    log(`made ${MADE_BASE} from Debian's packages, ${elapsed(started)}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Builds docker/Dockerfile as IMAGE (layer cache kept), with progress lines; prunes the image it replaces. */
export async function buildImage(host: string): Promise<void> {
  const base = await ensureBaseImage(host);
  const started = performance.now();
  log(`building ${IMAGE} from docker/Dockerfile on ${base} ...`);
  let cached = true;
  await run(
    "docker",
    [
      "build",
      "--rm",
      "--force-rm",
      "--build-arg",
      `BASE_IMAGE=${base}`,
      "--tag",
      IMAGE,
      join(ROOT, "docker"),
    ],
    {
      // the classic builder: BuildKit needs the buildx plugin on newer clients
      env: { ...process.env, DOCKER_HOST: host, DOCKER_BUILDKIT: "0" },
      line: (l) => {
        if (/^Step \d+\/\d+ : RUN/.test(l)) log(`  ${l.slice(0, 100)}`);
        if (/^ ---> Running in /.test(l)) cached = false;
        if (
          /^(Get:\d+|Setting up postgresql)/.test(l) &&
          /postgresql-15/.test(l)
        )
          log(`  ${l.slice(0, 100)}`);
      },
    },
  );
  docker(host, [
    "image",
    "prune",
    "--force",
    "--filter",
    `label=${IMAGE_LABEL}`,
  ]);
  log(
    `${IMAGE} ${cached ? "up to date (layer cache)" : "built"}, ${elapsed(started)}`,
  );
}
