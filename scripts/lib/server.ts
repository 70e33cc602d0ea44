// Where the database comes from, in this order (DESIGN.md "The database it runs on"):
// DATABASE_URL, then a container runtime if one answers, then a throwaway local cluster.
import { spawnSync } from "node:child_process";
import { checkServer } from "./check-server.ts";
import { startLocalCluster } from "./cluster.ts";
import { log } from "./log.ts";
import { withDatabase, type Server } from "./server-contract.ts";

function containerRuntimeAnswers(): boolean {
  if (process.env.QUERYBUDGET_NO_CONTAINER === "1") return false;
  const r = spawnSync("docker", ["info", "--format", "{{.ServerVersion}}"], {
    timeout: 5000,
    encoding: "utf8",
  });
  return r.status === 0 && r.stdout.trim().length > 0;
}

export async function provisionServer(): Promise<Server> {
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
  if (containerRuntimeAnswers()) {
    const { startContainer } = await import("./container.ts");
    return startContainer();
  }
  return startLocalCluster();
}
