// Where the database comes from (DESIGN.md "The database it runs on").
//
// QB_SERVER=local|container forces a path. Without it, in this order: DATABASE_URL, then a
// container engine that answers (DOCKER_HOST or the default socket), then a throwaway local
// cluster. The test suite's global setup asks for the local cluster unless QB_SERVER or
// DATABASE_URL says otherwise (`defaultPath: "local"`), so a running engine does not move the
// whole suite into a container; test/container.test.ts forces the container path.
import { checkServer } from "./check-server.ts";
import { userEngineHost } from "./docker-engine.ts";
import { startLocalCluster } from "./cluster.ts";
import { log } from "./log.ts";
import { withDatabase, type Server } from "./server-contract.ts";

export type ServerPath = "local" | "container";

/** QB_SERVER, checked: undefined when unset. */
export function forcedPath(): ServerPath | undefined {
  const v = process.env.QB_SERVER?.trim();
  if (!v) return undefined;
  if (v === "local" || v === "container") return v;
  throw new Error(`QB_SERVER=${v}: it must be local or container (or unset)`);
}

export interface ProvisionOptions {
  /** The path to take when neither QB_SERVER nor DATABASE_URL is set (default: probe for an engine). */
  defaultPath?: ServerPath;
}

async function startPath(path: ServerPath): Promise<Server> {
  if (path === "local") return startLocalCluster();
  const { startContainer } = await import("./container.ts");
  return startContainer();
}

export async function provisionServer(
  options: ProvisionOptions = {},
): Promise<Server> {
  const forced = forcedPath();
  if (forced) {
    if (process.env.DATABASE_URL)
      log(`QB_SERVER=${forced}: DATABASE_URL is not used`);
    return startPath(forced);
  }
  const external = process.env.DATABASE_URL;
  if (external) {
    await checkServer(external);
    log(`using the server at DATABASE_URL`);
    return {
      kind: "external",
      url: external,
      adminUrl: withDatabase(external, "postgres"),
      stop: async () => {},
    };
  }
  if (options.defaultPath) return startPath(options.defaultPath);
  if (await userEngineHost()) {
    log(
      "a container engine answers: the container path (QB_SERVER=local for the local cluster)",
    );
    return startPath("container");
  }
  return startLocalCluster();
}
