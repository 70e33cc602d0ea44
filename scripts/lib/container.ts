// The container path: a container engine (the user's, or dockerd the harness starts:
// docker-engine.ts), the image of docker/Dockerfile (Debian's postgresql-15 and extension
// packages, the settings of server-settings.ts: container-image.ts), started with
// @testcontainers/postgresql. Its readiness is the module's own wait strategy: a health check
// running `pg_isready --host localhost` inside the container, and the port listening. The
// image's entrypoint initializes in single-user mode (listening on nothing), so the first
// answer over TCP is the real server, with the querybudget database made.
//
// Testcontainers' reaper (Ryuk) is an image from Docker Hub, which does not answer everywhere:
// it is off unless the user says otherwise (TESTCONTAINERS_RYUK_DISABLED=false), and the
// harness removes its containers itself: at stop, and at the next start any container of ours
// whose run (the pid in its label) has died.
import { PostgreSqlContainer } from "@testcontainers/postgresql";
import { acquireEngine, type Engine } from "./docker-engine.ts";
import { buildImage, docker, IMAGE } from "./container-image.ts";
import { elapsed, log } from "./log.ts";
import { MAIN_DATABASE, withDatabase, type Server } from "./server-contract.ts";
import { commandLineOptions, TEST_ONLY_SPEED } from "./server-settings.ts";

export const CONTAINER_ROLE_LABEL = "org.querybudget.role";

export interface ContainerServer extends Server {
  kind: "container";
  containerId: string;
  engine: Engine;
  /** Stops and removes the container; the engine stays. stop() does this and then releases the engine. */
  stopContainer(): Promise<void>;
  /** What stop() did to the engine (Engine.release), once it ran. */
  engineAfterStop?: "stopped" | "left running" | "not ours";
  /** Seconds each step took. */
  timings: Record<"engine" | "image" | "start", number>;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Removes our containers whose run has died (their pid label names a process that is gone). */
function removeOrphans(host: string): void {
  const r = docker(host, [
    "ps",
    "--all",
    "--filter",
    `label=${CONTAINER_ROLE_LABEL}=server`,
    "--format",
    '{{.ID}} {{.Label "org.querybudget.pid"}}',
  ]);
  for (const line of r.stdout.split("\n").filter(Boolean)) {
    const [id, pid] = line.split(" ");
    if (id && !alive(Number(pid))) {
      docker(host, ["rm", "--force", "--volumes", id]);
      log(`removed container ${id}, left by a run that died`);
    }
  }
}

export async function startContainer(): Promise<ContainerServer> {
  const t0 = performance.now();
  const engine = await acquireEngine();
  try {
    const t1 = performance.now();
    removeOrphans(engine.host);
    await buildImage(engine.host);
    const t2 = performance.now();
    // read by testcontainers when it first makes its client, in this process
    process.env.DOCKER_HOST = engine.host;
    process.env.TESTCONTAINERS_RYUK_DISABLED ??= "true";
    log(`starting a container of ${IMAGE} ...`);
    const container = await new PostgreSqlContainer(IMAGE)
      .withDatabase(MAIN_DATABASE)
      .withUsername("postgres")
      .withPassword("postgres")
      .withLabels({
        [CONTAINER_ROLE_LABEL]: "server",
        "org.querybudget.pid": String(process.pid),
      })
      // the image's entrypoint is `postgres`: the command adds options. TEST-ONLY: a
      // throwaway container gets the speed settings the image itself never has.
      .withCommand(commandLineOptions(TEST_ONLY_SPEED))
      // TEST-ONLY as well: initdb without waiting for its files to reach the disk
      .withEnvironment({ POSTGRES_INITDB_ARGS: "--no-sync" })
      // parallel queries share memory through /dev/shm, 64 MB in a container by default
      .withSharedMemorySize(1024 * 1024 * 1024)
      .withStartupTimeout(300_000)
      .start();
    const t3 = performance.now();
    const url = container.getConnectionUri();
    const timings = {
      engine: (t1 - t0) / 1000,
      image: (t2 - t1) / 1000,
      start: (t3 - t2) / 1000,
    };
    log(
      `container ${container.getId().slice(0, 12)} ready on port ${container.getPort()}, ${elapsed(t0)} ` +
        `(engine ${timings.engine.toFixed(1)} s, image ${timings.image.toFixed(1)} s, start ${timings.start.toFixed(1)} s)`,
    );
    let containerStopped = false;
    const stopContainer = async () => {
      if (containerStopped) return;
      containerStopped = true;
      await container.stop({ remove: true, removeVolumes: true });
    };
    const server: ContainerServer = {
      kind: "container",
      url,
      adminUrl: withDatabase(url, "postgres"),
      containerId: container.getId(),
      engine,
      timings,
      stopContainer,
      stop: async () => {
        try {
          await stopContainer();
        } finally {
          server.engineAfterStop = await engine.release();
        }
      },
    };
    return server;
  } catch (error) {
    await engine.release();
    throw error;
  }
}
