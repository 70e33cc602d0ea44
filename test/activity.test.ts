// api.active_operations and api.gap_answers, checked against the seeds' "before" code
// (scripts/lib/before/reads.ts: load everything, filter and sort in code) on the seeded data.
import { describe, expect, test } from "vitest";
import {
  activeOperations as activeOperationsBefore,
  gapAnswers as gapAnswersBefore,
} from "../scripts/lib/before/reads.ts";
import { useTestDatabase } from "./harness/database.ts";
import { sqlState } from "./harness/errors.ts";
import { pick, prng } from "./harness/random.ts";

const db = useTestDatabase("activity");

describe("api.active_operations", () => {
  test("equals the before side on random users, the busiest one, and a user with none", async () => {
    const { sql } = db();
    const users = await sql<
      { tenant_id: string; user_id: string; active: number }[]
    >`
      select u.tenant_id, u.id as user_id,
             (select count(*)::int from app.operations o
              where o.tenant_id = u.tenant_id and o.user_id = u.id and o.status in ('pending', 'processing')) as active
      from app.users u order by u.tenant_id, u.id`;
    const busiest = users.reduce((a, b) => (b.active > a.active ? b : a));
    expect(busiest.active).toBeGreaterThan(0);
    const [idle] = await sql<
      { tenant_id: string; user_id: string; active: number }[]
    >`
      insert into app.users (tenant_id, email, display_name) values (1, 'idle@activity.test', 'Idle')
      returning tenant_id, id as user_id, 0 as active`;
    for (const u of [busiest, idle!, ...pick(users, 10, prng(7))]) {
      const rows =
        await sql`select * from api.active_operations(${u.tenant_id}, ${u.user_id})`;
      expect([...rows], `user ${u.tenant_id}/${u.user_id}`).toEqual(
        await activeOperationsBefore(sql, u.tenant_id, u.user_id),
      );
      expect(rows.length).toBe(Math.min(u.active, 100));
    }
    const limited =
      await sql`select * from api.active_operations(${busiest.tenant_id}, ${busiest.user_id}, ${1})`;
    expect([...limited]).toEqual(
      await activeOperationsBefore(sql, busiest.tenant_id, busiest.user_id, 1),
    );
  });

  test("another tenant's user gives no rows", async () => {
    const { sql } = db();
    const [u] = await sql<{ tenant_id: string; user_id: string }[]>`
      select tenant_id, user_id from app.operations where status = 'pending' and tenant_id <> 1 limit 1`;
    expect(
      await sql`select * from api.active_operations(1, ${u!.user_id})`,
    ).toHaveLength(0);
  });

  test("errors: QB001 null user, QB004 limit out of range, QB005 unknown tenant", async () => {
    const { sql } = db();
    expect(
      await sqlState(sql`select * from api.active_operations(1, null)`),
    ).toBe("QB001");
    expect(
      await sqlState(sql`select * from api.active_operations(1, 1, ${0})`),
    ).toBe("QB004");
    expect(
      await sqlState(sql`select * from api.active_operations(1, 1, ${1001})`),
    ).toBe("QB004");
    expect(
      await sqlState(sql`select * from api.active_operations(999999999, 1)`),
    ).toBe("QB005");
  });
});

describe("api.gap_answers", () => {
  test("equals the before side on random gaps, one with the most answers, and one with none", async () => {
    const { sql } = db();
    const gaps = await sql<
      { tenant_id: string; id: string; answers: number }[]
    >`
      select g.tenant_id, g.id, (select count(*)::int from app.gap_answers a
                                 where a.tenant_id = g.tenant_id and a.knowledge_gap_id = g.id) as answers
      from app.knowledge_gaps g order by g.tenant_id, g.id`;
    const most = gaps.reduce((a, b) => (b.answers > a.answers ? b : a));
    const none = gaps.find((g) => g.answers === 0);
    expect(most.answers).toBeGreaterThan(1);
    expect(none).toBeDefined();
    for (const g of [most, none!, ...pick(gaps, 10, prng(11))]) {
      const rows =
        await sql`select * from api.gap_answers(${g.tenant_id}, ${g.id})`;
      expect([...rows], `gap ${g.tenant_id}/${g.id}`).toEqual(
        await gapAnswersBefore(sql, g.tenant_id, g.id),
      );
      expect(rows.length).toBe(g.answers);
    }
  });

  test("another tenant's gap gives no rows", async () => {
    const { sql } = db();
    const [g] = await sql<{ id: string }[]>`
      select knowledge_gap_id as id from app.gap_answers where tenant_id <> 1 limit 1`;
    expect(await sql`select * from api.gap_answers(1, ${g!.id})`).toHaveLength(
      0,
    );
  });

  test("errors: QB001 null gap, QB005 unknown tenant", async () => {
    const { sql } = db();
    expect(await sqlState(sql`select * from api.gap_answers(1, null)`)).toBe(
      "QB001",
    );
    expect(
      await sqlState(sql`select * from api.gap_answers(999999999, 1)`),
    ).toBe("QB005");
  });
});
