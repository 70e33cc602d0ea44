// The dashboard's web server (hono on node): one route per page of pages.ts, Chart.js and the
// chart script as static files, bound to localhost. Read-only: GET only.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import type { AddressInfo } from "node:net";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { serve } from "@hono/node-server";
import { Hono } from "hono";
import { PAGES, renderPage } from "./pages.ts";
import { openMonitor, type Monitor } from "./queries.ts";

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);

export interface DashboardOptions {
  /** A URL as querybudget_monitor (queries.ts monitorUrlOf). */
  monitorUrl: string;
  /** 0: any free port. */
  port: number;
  /** Where reports/latest.json and reports/advisor.json are read from. */
  reportsDir: string;
  host?: string;
}

export interface Dashboard {
  url: string;
  monitor: Monitor;
  close(): Promise<void>;
}

export function dashboardApp(monitor: Monitor, reportsDir: string): Hono {
  const app = new Hono();
  const chartJs = readFileSync(
    join(dirname(require.resolve("chart.js")), "chart.umd.min.js"),
    "utf8",
  );
  const chartsScript = readFileSync(join(here, "charts.js"), "utf8");
  const js = {
    "content-type": "text/javascript; charset=utf-8",
    "cache-control": "max-age=3600",
  };
  app.get("/static/chart.umd.js", (c) => c.body(chartJs, 200, js));
  app.get("/static/charts.js", (c) => c.body(chartsScript, 200, js));
  app.get("/favicon.ico", (c) => c.body(null, 204));
  for (const page of PAGES) {
    app.get(page.path, async (c) => {
      const sections = await page.load({ monitor, reportsDir });
      return c.html(renderPage(page, monitor.database, sections));
    });
  }
  app.onError((error, c) =>
    c.text(`The dashboard could not read this page: ${error.message}`, 500),
  );
  return app;
}

export async function startDashboard(
  options: DashboardOptions,
): Promise<Dashboard> {
  const monitor = await openMonitor(options.monitorUrl);
  const app = dashboardApp(monitor, options.reportsDir);
  const host = options.host ?? "127.0.0.1";
  try {
    const { server, port } = await new Promise<{
      server: ReturnType<typeof serve>;
      port: number;
    }>((resolve, reject) => {
      const server = serve(
        { fetch: app.fetch, port: options.port, hostname: host },
        (info: AddressInfo) => resolve({ server, port: info.port }),
      );
      server.once("error", reject);
    });
    return {
      url: `http://${host.includes(":") ? `[${host}]` : host}:${port}/`,
      monitor,
      close: async () => {
        await new Promise<void>((resolve) => server.close(() => resolve()));
        await monitor.close();
      },
    };
  } catch (error) {
    await monitor.close();
    throw error;
  }
}
