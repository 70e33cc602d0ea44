// The workload as statements the planner can be asked about: pg_stat_statements entries of the
// analysed database (statements inside functions included: track = all), each rebuilt into a
// text that PREPARE accepts. docs/monitoring.md "Index advisor".
//
// pg_stat_statements keeps a statement normalized: constants become $n. A statement that ran
// inside a PL/pgSQL or SQL function also keeps the function's variable names (`d.tenant_id =
// p_tenant_id`), which no PREPARE understands. So a nested statement is looked up in the source
// of the functions (the normalized text as a pattern, $n matching any constant) and rebuilt from
// there: the constants come back (which is what partial-index candidates need), and each
// argument or declared variable becomes a typed parameter ($k::type). Statements found in no
// function (the foreign key checks PostgreSQL runs, top-level statements) keep their $n, whose
// types PREPARE infers.
import type postgres from "postgres";

export interface WorkloadStatement {
  queryid: string;
  toplevel: boolean;
  calls: number;
  totalMs: number;
  /** As pg_stat_statements shows it. */
  query: string;
  /** What to PREPARE: parameters as $n. */
  runnable: string;
  /** Declared parameter types, by position ($1 is [0]); undefined: inferred by PREPARE. */
  paramTypes: (string | undefined)[];
  /** The function it was found in, "api.chunks_page(bigint,bigint,bigint,integer)". */
  origin?: string;
  /** A literal statement given by the user (a file of queries): run as it is. */
  literal?: boolean;
}

export interface StatementCounters {
  calls: number;
  totalMs: number;
}

/** Calls and time per (queryid, toplevel) of the database now: a baseline to subtract. */
export async function statementCounters(
  sql: postgres.Sql,
): Promise<Map<string, StatementCounters>> {
  const schema = await pgssSchema(sql);
  const rows = await sql.unsafe<
    { key: string; calls: string; total: number }[]
  >(
    `select s.queryid::text || ':' || s.toplevel::text as key, sum(s.calls) as calls, sum(s.total_exec_time) as total
       from ${schema}.pg_stat_statements(false) s
      where s.dbid = (select d.oid from pg_database d where d.datname = current_database())
      group by 1`,
  );
  return new Map(
    rows.map((r) => [r.key, { calls: Number(r.calls), totalMs: r.total }]),
  );
}

export async function pgssSchema(
  sql: postgres.Sql | postgres.ReservedSql,
): Promise<string> {
  const [row] = await sql<{ schema: string | null }[]>`
    select (select e.extnamespace::regnamespace::text from pg_extension e where e.extname = 'pg_stat_statements') as schema`;
  if (!row?.schema)
    throw new Error(
      "pg_stat_statements is not installed in the analysed database (create extension pg_stat_statements)",
    );
  return row.schema;
}

// Statements the planner has nothing to say about: utility commands.
const UTILITY =
  /^(begin|start|commit|end|rollback|abort|savepoint|release|set|reset|show|create|alter|drop|analyze|analyse|vacuum|call|do|explain|prepare|execute|deallocate|copy|load|refresh|lock|notify|listen|unlisten|grant|revoke|truncate|comment|reindex|cluster|checkpoint|discard|security|fetch|move|close|declare|import|prepare)\b/i;
const PLANNABLE = /^(select|with|insert|update|delete|values|table|merge)\b/i;

/** The statement without leading comments and blanks. */
export function stripLeadingComments(text: string): string {
  let t = text;
  for (;;) {
    const trimmed = t.replace(/^\s+/, "");
    if (trimmed.startsWith("--")) t = trimmed.replace(/^--[^\n]*\n?/, "");
    else if (trimmed.startsWith("/*"))
      t = trimmed.replace(/^\/\*[\s\S]*?\*\//, "");
    else return trimmed;
  }
}

interface FunctionSource {
  signature: string;
  language: string;
  source: string;
  /** Argument names and types that the body can use as variables, with their positions (1-based). */
  variables: { name: string; type: string; position: number }[];
}

/** User functions in SQL and PL/pgSQL, with the variables their statements may name. */
export async function functionSources(
  sql: postgres.Sql,
): Promise<FunctionSource[]> {
  const rows = await sql<
    {
      signature: string;
      language: string;
      source: string;
      names: string[] | null;
      modes: string[] | null;
      types: string[];
    }[]
  >`
    select p.oid::regprocedure::text as signature, l.lanname as language, p.prosrc as source,
           p.proargnames as names, p.proargmodes::text[] as modes,
           array(select format_type(t, null) from unnest(coalesce(p.proallargtypes, p.proargtypes::oid[])) t) as types
    from pg_proc p
    join pg_language l on l.oid = p.prolang
    join pg_namespace n on n.oid = p.pronamespace
    where l.lanname in ('sql', 'plpgsql')
      and n.nspname not in ('pg_catalog', 'information_schema')
      and not exists (select from pg_depend d where d.classid = 'pg_proc'::regclass and d.objid = p.oid and d.deptype = 'e')`;
  return rows.map((r) => {
    const variables: FunctionSource["variables"] = [];
    let position = 0;
    r.types.forEach((type, i) => {
      const mode = r.modes?.[i] ?? "i";
      if (mode === "o" || mode === "t") return; // OUT and TABLE columns: not arguments
      position++;
      const name = r.names?.[i];
      if (name) variables.push({ name, type, position });
    });
    if (r.language === "plpgsql") {
      for (const v of declaredVariables(r.source))
        variables.push({ ...v, position: ++position });
    }
    return {
      signature: r.signature,
      language: r.language,
      source: r.source,
      variables,
    };
  });
}

/** `declare v_x bigint := 0; v_y text[];` of a PL/pgSQL body: names and types (records and cursors left out). */
export function declaredVariables(
  source: string,
): { name: string; type: string }[] {
  const m = /^\s*declare\b([\s\S]*?)\bbegin\b/i.exec(
    source.replace(/--[^\n]*/g, ""),
  );
  if (!m) return [];
  const out: { name: string; type: string }[] = [];
  for (const part of m[1]!.split(";")) {
    const d =
      /^\s*([a-z_][\w$]*)\s+(?:constant\s+)?([a-z_][\w. ]*?(?:\(\d+(?:,\s*\d+)?\))?(?:\[\])*)\s*(?:(?:not\s+null\s*)?(?::=|=|default)[\s\S]*)?$/i.exec(
        part,
      );
    if (!d) continue;
    const type = d[2]!.trim();
    if (
      /^(record|refcursor|cursor)\b/i.test(type) ||
      /%/.test(part.split(/:=|default/i)[0]!)
    )
      continue;
    out.push({ name: d[1]!, type });
  }
  return out;
}

const escapeRegex = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/**
 * A pattern that matches the statement in a function's source: $n (a normalized constant)
 * matches a constant (a string, a number, true or false, a typed literal); a run of blanks
 * matches blanks, or the INTO clause PL/pgSQL blanked out of the statement; a leading SELECT
 * also PERFORM.
 */
const CONSTANT = String.raw`(?:-\s*)?(?:[a-z_][\w ]*?\s*)?(?:'(?:[^']|'')*'|\d[\w.]*)|true|false`;
const BLANKS_OR_INTO = String.raw`(?:\s*\binto\s+(?:strict\s+)?[a-z_][\w$.]*(?:\s*,\s*[a-z_][\w$.]*)*\s+|\s+)`;
function sourcePattern(query: string): RegExp | undefined {
  const text = query.trim();
  if (text.length < 8) return undefined;
  const literal = (p: string) =>
    p
      .split(/(\s+)/)
      .map((piece) =>
        /^\s+$/.test(piece)
          ? piece.length >= 6
            ? BLANKS_OR_INTO
            : "\\s+"
          : escapeRegex(piece),
      )
      .join("");
  let pattern = text.split(/\$\d+/).map(literal).join(`(?:${CONSTANT})`);
  pattern = pattern.replace(/^SELECT\\s\+/i, "(?:select|perform)\\s+");
  try {
    return new RegExp(pattern, "i");
  } catch {
    return undefined;
  }
}

/** Replaces identifiers outside strings, quoted names and comments; `qualified` names (x.name) are columns, left alone. */
export function replaceIdentifiers(
  text: string,
  replace: (name: string) => string | undefined,
): string {
  let out = "";
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    const rest = text.slice(i);
    if (c === "'") {
      const m = /^'(?:[^']|'')*'/.exec(rest);
      const s = m ? m[0] : rest;
      out += s;
      i += s.length;
    } else if (c === '"') {
      const m = /^"(?:[^"]|"")*"/.exec(rest);
      const s = m ? m[0] : rest;
      out += s;
      i += s.length;
    } else if (rest.startsWith("--")) {
      const end = rest.indexOf("\n");
      const s = end < 0 ? rest : rest.slice(0, end);
      out += s;
      i += s.length;
    } else if (rest.startsWith("/*")) {
      const end = rest.indexOf("*/");
      const s = end < 0 ? rest : rest.slice(0, end + 2);
      out += s;
      i += s.length;
    } else if (/[a-z_]/i.test(c) && !/[\w$]/.test(text[i - 1] ?? "")) {
      const m = /^[a-z_][\w$]*/i.exec(rest)!;
      const word = m[0];
      const before = out.replace(/\s+$/, "");
      // x.name is a column of x, name.x a table or schema: neither is a variable
      const qualified =
        before.endsWith(".") || /^\s*\./.test(rest.slice(word.length));
      const r = qualified ? undefined : replace(word);
      out += r ?? word;
      i += word.length;
    } else {
      out += c;
      i++;
    }
  }
  return out;
}

/** The rebuilt statement of a nested entry, from the function that holds it; undefined when no function does. */
export function rebuildFromSource(
  query: string,
  functions: readonly FunctionSource[],
): Pick<WorkloadStatement, "runnable" | "paramTypes" | "origin"> | undefined {
  const pattern = sourcePattern(query);
  if (!pattern) return undefined;
  for (const f of functions) {
    const m = pattern.exec(f.source);
    if (!m) continue;
    let text = m[0];
    // PL/pgSQL runs PERFORM x as SELECT x, and takes INTO targets out of the statement.
    text = text.replace(/^perform\b/i, "select");
    if (f.language === "plpgsql") {
      text = replaceIntoClause(text);
      // an expression of IF / WHILE / an assignment runs as SELECT <expression>
      if (!PLANNABLE.test(stripLeadingComments(text))) text = `select ${text}`;
    }
    const byName = new Map(f.variables.map((v) => [v.name.toLowerCase(), v]));
    const paramTypes: (string | undefined)[] = [];
    for (const v of f.variables) paramTypes[v.position - 1] = v.type;
    const runnable = replaceIdentifiers(text, (word) => {
      const v = byName.get(word.toLowerCase());
      return v ? `$${v.position}` : undefined;
    });
    // positional references of a SQL function ($1) are already parameters
    return {
      runnable,
      paramTypes: Array.from(
        { length: paramTypes.length },
        (_, i) => paramTypes[i] ?? "text",
      ),
      origin: f.signature,
    };
  }
  return undefined;
}

/** `select a into v_a from ...` → `select a from ...` (not INSERT INTO / MERGE INTO). */
function replaceIntoClause(text: string): string {
  return text.replace(
    /\binto\s+(?:strict\s+)?[a-z_][\w$.]*(?:\s*,\s*[a-z_][\w$.]*)*/gi,
    (match, offset: number) => {
      const before = text.slice(0, offset);
      return /\b(insert|merge)\s*$/i.test(before) ? match : "";
    },
  );
}

export interface CollectOptions {
  /** Counters before the workload: only what ran since is taken (calls and time are differences). */
  baseline?: Map<string, StatementCounters>;
  /** Leave out statements called fewer times. Default 1. */
  minCalls?: number;
}

/**
 * The statements of the database's pg_stat_statements entries (all roles), top-level and
 * nested, that the planner can plan: utility commands are left out.
 */
export async function collectStatements(
  sql: postgres.Sql,
  options: CollectOptions = {},
): Promise<WorkloadStatement[]> {
  const { baseline, minCalls = 1 } = options;
  const schema = await pgssSchema(sql);
  const rows = await sql.unsafe<
    {
      queryid: string;
      toplevel: boolean;
      calls: string;
      total: number;
      query: string;
    }[]
  >(
    `select s.queryid::text as queryid, s.toplevel, sum(s.calls) as calls, sum(s.total_exec_time) as total, min(s.query) as query
       from ${schema}.pg_stat_statements(true) s
      where s.dbid = (select d.oid from pg_database d where d.datname = current_database())
      group by s.queryid, s.toplevel`,
  );
  const functions = await functionSources(sql);
  const statements: WorkloadStatement[] = [];
  for (const r of rows) {
    const base = baseline?.get(`${r.queryid}:${r.toplevel}`);
    const calls = Number(r.calls) - (base?.calls ?? 0);
    if (calls < minCalls) continue;
    const head = stripLeadingComments(r.query);
    if (UTILITY.test(head)) continue;
    if (/\bpg_stat_statements\b|\bhypopg/i.test(r.query)) continue; // the advisor's own reads
    const statement: WorkloadStatement = {
      queryid: r.queryid,
      toplevel: r.toplevel,
      calls,
      totalMs: r.total - (base?.totalMs ?? 0),
      query: r.query,
      runnable: PLANNABLE.test(head) ? r.query : `select ${r.query}`,
      paramTypes: [],
    };
    if (!r.toplevel) {
      const rebuilt = rebuildFromSource(r.query, functions);
      if (rebuilt) Object.assign(statement, rebuilt);
    }
    statements.push(statement);
  }
  return statements.sort(
    (a, b) => b.totalMs - a.totalMs || a.queryid.localeCompare(b.queryid),
  );
}
