// A suite that passes on any day. The seed lays out every row at the same place of its monthly
// partition whatever the data's clock (the anchor, seed/00-setup.sql), and places expiry against
// the server's clock, so the plan of every api read (and of every write that does not write the
// monthly partitioned tables at the server's clock, below), its fingerprint and its shared
// buffers are the same with the data's clock moved to a month end, a year end or a leap day as
// with today's: the committed fingerprints (test/plans/<tier>.json) hold, and the buffers equal
// those of a copy seeded again with today's clock.
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { readFileSync } from "node:fs";
import { seedDatabase } from "../scripts/lib/seed.ts";
import { walk } from "../scripts/lib/plan/index.ts";
import {
  fingerprintFile,
  TIERS,
  WORKLOAD_RUN_ORDER,
  workloadShapes,
  type TierName,
  type WorkloadDefinition,
  type WorkloadShape,
} from "../scripts/lib/workload.ts";
import { createTestDatabase, dropTestDatabase } from "./harness/database.ts";

const DATES: Record<string, string> = {
  "a month end": "2027-01-31T23:59:59Z",
  "a year end": "2027-12-31T23:59:59Z",
  "a leap day": "2028-02-29T12:00:00Z",
};
// The 1M tier costs a seed of 1M rows per date (about 40 s): one date, the leap day, there.
const DATES_AT: Record<TierName, string[]> = {
  "10k": Object.keys(DATES),
  "1M": ["a leap day"],
};

type Shapes = Map<string, WorkloadShape>;

// The monthly partitioned tables: a write reaches them at the server's clock (now()), the month
// of which the suite's data lays out like every other (its data's clock is the server's). With
// the data's clock moved away from the server's, those rows land in another partition (the
// default one), so the writes that touch these tables are compared only on today's date.
const CALENDAR_TABLES = new Set(["app.operations", "app.messages"]);
const touchesCalendar = (shape: WorkloadShape | undefined) =>
  !!shape?.statements.some((s) =>
    [...walk(s.plan)].some((n) =>
      CALENDAR_TABLES.has(n.rootRelation ?? n.relation ?? ""),
    ),
  );

/** The workloads compared across dates: every read, and the writes that do not touch the monthly partitions. */
function comparable(shapes: Shapes): WorkloadDefinition[] {
  return WORKLOAD_RUN_ORDER.filter(
    (d) => d.kind === "read" || !touchesCalendar(shapes.get(d.name)),
  );
}

/** Every workload's shape on a copy of the tier's template, seeded again with the data's clock at `anchor` (default: today). */
async function shapesOn(tier: TierName, anchor?: string): Promise<Shapes> {
  const db = await createTestDatabase(`calendar_${tier}`, { tier });
  try {
    await seedDatabase(db.sql, {
      rows: TIERS[tier],
      seed: 1,
      anchor: anchor ? new Date(anchor) : undefined,
    });
    return await workloadShapes(db.url, db.sql);
  } finally {
    await dropTestDatabase(db);
  }
}

for (const tier of Object.keys(DATES_AT) as TierName[]) {
  describe(`the data's clock moved, at ${tier}`, () => {
    const committed: Record<string, string[]> = JSON.parse(
      readFileSync(fingerprintFile(tier), "utf8"),
    );
    let today: Shapes;
    const moved = new Map<string, Shapes>();
    beforeAll(async () => {
      today = await shapesOn(tier);
      for (const date of DATES_AT[tier])
        moved.set(date, await shapesOn(tier, DATES[date]));
    });
    afterAll(() => moved.clear());

    for (const date of DATES_AT[tier]) {
      test(`to ${date} (${DATES[date]}): every plan as committed in test/plans/${tier}.json`, () => {
        const shapes = moved.get(date)!;
        for (const def of comparable(shapes)) {
          expect(
            shapes.get(def.name)?.fingerprint,
            `${def.name} at ${tier}, data's clock at ${DATES[date]}`,
          ).toEqual(committed[def.name]);
        }
      });

      test(`to ${date} (${DATES[date]}): every read reads the same shared buffers as today`, () => {
        // Reads only: a write's buffers also depend on which dead row versions of the earlier
        // (rolled-back) workloads its pages can prune or reuse on the way, which varies from run
        // to run on a busy server whatever the date (measured: set_collection_status 92 to 160).
        const reads = (x: Shapes) =>
          Object.fromEntries(
            comparable(moved.get(date)!)
              .filter((d) => d.kind === "read")
              .map((d) => [d.name, x.get(d.name)?.buffers ?? NaN]),
          );
        expect(reads(moved.get(date)!)).toEqual(reads(today));
      });
    }
  });
}
