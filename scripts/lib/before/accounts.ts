// The "before" side of the account writes (issue 11, items 1 and 2): tenants, users,
// connectors, collections and sessions as seeds 001, 003 and 004's SQLAlchemy code made them,
// one row per statement: look the row up (db.query(...).first()), then db.add() and flush (an
// INSERT), or change an attribute (an UPDATE), or db.delete() (a DELETE), once per item. Same
// arguments and the same results as the api functions, for the tests (the reference) and the
// side-by-side benchmark. Run them in a transaction (BEGIN on a reserved or max: 1 client) for
// the seeds' single commit.
import { randomUUID } from "node:crypto";
import type postgres from "postgres";

type Id = number | string;

export interface CreatedUser {
  position: number;
  id: string;
  email: string;
  status: "created" | "exists" | "duplicate";
}

/** db.add(Tenant(name)); db.commit(); db.refresh(tenant): an insert, then the row read back. */
export async function createTenant(
  sql: postgres.Sql,
  name: string,
): Promise<{ tenant_id: string; name: string; created_at: Date }[]> {
  const [row] = await sql<
    { tenant_id: string }[]
  >`insert into app.tenants (name) values (${name}) returning tenant_id`;
  return [
    ...(await sql<{ tenant_id: string; name: string; created_at: Date }[]>`
    select tenant_id, name, created_at from app.tenants where tenant_id = ${row!.tenant_id}`),
  ];
}

/** Per item: is the email taken (a query), then an insert: 2n statements, in batch order. */
export async function createUsers(
  sql: postgres.Sql,
  tenantId: Id,
  users: { email: string; display_name: string }[],
): Promise<CreatedUser[]> {
  const out: CreatedUser[] = [];
  const seen = new Map<string, string>();
  for (const [position, u] of users.entries()) {
    const first = seen.get(u.email);
    if (first !== undefined) {
      out.push({ position, id: first, email: u.email, status: "duplicate" });
      continue;
    }
    const [existing] = await sql<
      { id: string }[]
    >`select id from app.users where tenant_id = ${tenantId} and email = ${u.email} limit 1`;
    let id: string;
    let status: CreatedUser["status"] = "exists";
    if (existing) id = existing.id;
    else {
      const [row] = await sql<{ id: string }[]>`
        insert into app.users (tenant_id, email, display_name) values (${tenantId}, ${u.email}, ${u.display_name}) returning id`;
      id = row!.id;
      status = "created";
    }
    seen.set(u.email, id);
    out.push({ position, id, email: u.email, status });
  }
  return out;
}

/** Seed 001's login query: db.query(User).filter(User.email == email).first(), within the tenant. */
export async function userByEmail(
  sql: postgres.Sql,
  tenantId: Id,
  email: string,
): Promise<unknown[]> {
  return [
    ...(await sql`select id, email, display_name, created_at from app.users where tenant_id = ${tenantId} and email = ${email} limit 1`),
  ];
}

/** The tenant loaded (does it exist?), then the insert. */
export async function createConnector(
  sql: postgres.Sql,
  tenantId: Id,
  kind: string,
  name: string,
): Promise<unknown[]> {
  const [tenant] =
    await sql`select tenant_id from app.tenants where tenant_id = ${tenantId}`;
  if (!tenant) return [];
  return [
    ...(await sql`insert into app.connectors (tenant_id, kind, name) values (${tenantId}, ${kind}, ${name}) returning id, kind, name, created_at`),
  ];
}

/** The owner loaded (is it the tenant's?), then the insert. */
export async function createCollection(
  sql: postgres.Sql,
  tenantId: Id,
  ownerId: Id,
  name: string,
): Promise<unknown[]> {
  const [owner] =
    await sql`select id from app.users where tenant_id = ${tenantId} and id = ${ownerId}`;
  if (!owner) return [];
  return [
    ...(await sql`
    insert into app.collections (tenant_id, owner_id, name) values (${tenantId}, ${ownerId}, ${name}) returning id, owner_id, name, status, created_at`),
  ];
}

/** Per id: load the collection, then set its status if it differs: up to 2n statements. */
export async function setCollectionStatus(
  sql: postgres.Sql,
  tenantId: Id,
  collectionIds: Id[],
  status: string,
): Promise<{ updated: number; unchanged: number; not_found: number }> {
  let updated = 0;
  let unchanged = 0;
  let notFound = 0;
  for (const id of new Set(collectionIds.map(String))) {
    const [c] = await sql<
      { status: string }[]
    >`select status from app.collections where tenant_id = ${tenantId} and id = ${id}`;
    if (!c) notFound++;
    else if (c.status === status) unchanged++;
    else {
      await sql`update app.collections set status = ${status} where tenant_id = ${tenantId} and id = ${id}`;
      updated++;
    }
  }
  return { updated, unchanged, not_found: notFound };
}

/** The user loaded, then the session inserted with a token made in the application. */
export async function createSession(
  sql: postgres.Sql,
  tenantId: Id,
  userId: Id,
  ttl = "30 days",
): Promise<unknown[]> {
  const [user] =
    await sql`select id from app.users where tenant_id = ${tenantId} and id = ${userId}`;
  if (!user) return [];
  return [
    ...(await sql`
    insert into app.user_sessions (tenant_id, user_id, token, expires_at)
    values (${tenantId}, ${userId}, ${randomUUID()}, now() + ${ttl}::interval) returning token as session_token, expires_at`),
  ];
}

/** The session loaded by token, its expiry checked in code, then updated. */
export async function touchSession(
  sql: postgres.Sql,
  token: string,
  ttl = "30 days",
): Promise<unknown[]> {
  const [s] = await sql<
    { tenant_id: string; id: string; expires_at: Date }[]
  >`select tenant_id, id, expires_at from app.user_sessions where token = ${token}`;
  if (!s || s.expires_at.getTime() <= Date.now()) return [];
  return [
    ...(await sql`
    update app.user_sessions set expires_at = greatest(expires_at, now() + ${ttl}::interval)
    where tenant_id = ${s.tenant_id} and id = ${s.id} returning tenant_id, user_id, expires_at`),
  ];
}

/** The session loaded by token, then deleted. */
export async function revokeSession(
  sql: postgres.Sql,
  token: string,
): Promise<boolean> {
  const [s] = await sql<
    { tenant_id: string; id: string; expires_at: Date }[]
  >`select tenant_id, id, expires_at from app.user_sessions where token = ${token}`;
  if (!s || s.expires_at.getTime() <= Date.now()) return false;
  await sql`delete from app.user_sessions where tenant_id = ${s.tenant_id} and id = ${s.id}`;
  return true;
}

/** The user's sessions loaded, then deleted one by one (N + 1). Returns the live ones ended. */
export async function revokeUserSessions(
  sql: postgres.Sql,
  tenantId: Id,
  userId: Id,
): Promise<number> {
  const sessions = await sql<
    { id: string; expires_at: Date }[]
  >`select id, expires_at from app.user_sessions where tenant_id = ${tenantId} and user_id = ${userId}`;
  let live = 0;
  for (const s of sessions) {
    await sql`delete from app.user_sessions where tenant_id = ${tenantId} and id = ${s.id}`;
    if (s.expires_at.getTime() > Date.now()) live++;
  }
  return live;
}
