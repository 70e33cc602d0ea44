// The container path: used when a container runtime answers and DATABASE_URL is not set.
// The image is built from docker/Dockerfile, with the same Debian packages as the local cluster.
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { GenericContainer } from "testcontainers";
import { PostgreSqlContainer } from "@testcontainers/postgresql";
import { MAIN_DATABASE } from "./cluster.ts";
import { log } from "./log.ts";
import {
  PRELOAD_LIBRARIES,
  withDatabase,
  type Server,
} from "./server-contract.ts";

const IMAGE = "querybudget-postgres:15";

export async function startContainer(): Promise<Server> {
  const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
  log(`container runtime found: building ${IMAGE} from docker/Dockerfile ...`);
  await GenericContainer.fromDockerfile(join(root, "docker")).build(IMAGE, {
    deleteOnExit: false,
  });
  const container = await new PostgreSqlContainer(IMAGE)
    .withDatabase(MAIN_DATABASE)
    .withUsername("postgres")
    .withPassword("postgres")
    .withCommand([
      "postgres",
      "-c",
      `shared_preload_libraries=${PRELOAD_LIBRARIES.join(",")}`,
      "-c",
      "pg_stat_statements.track=all",
      "-c",
      "track_functions=all",
      "-c",
      `cron.database_name=${MAIN_DATABASE}`,
      "-c",
      "cron.use_background_workers=on",
      "-c",
      "max_worker_processes=32",
      // TEST-ONLY speed settings, as in the local cluster.
      "-c",
      "fsync=off",
      "-c",
      "synchronous_commit=off",
      "-c",
      "full_page_writes=off",
    ])
    .start();
  const url = container.getConnectionUri();
  log(`container ${container.getId().slice(0, 12)} ready`);
  return {
    kind: "container",
    url,
    adminUrl: withDatabase(url, "postgres"),
    stop: async () => {
      await container.stop();
    },
  };
}
