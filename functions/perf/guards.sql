-- The argument guard of the perf functions (thresholds), as functions/app/guards.sql is the
-- api's: perf lives apart from app so that the monitoring role needs nothing of app.
create or replace function perf.require_threshold(
  p_value anycompatible, p_name text, p_min anycompatible, p_max anycompatible default null)
returns anycompatible
language plpgsql
immutable
set search_path = pg_catalog, pg_temp
set jit = off
as $$
begin
  if p_value is null then
    raise exception '% must not be null', p_name using errcode = 'QB001';
  end if;
  if p_value < p_min or p_value > p_max then
    raise exception '% is %; it must be % or more%', p_name, p_value, p_min,
      case when p_max is null then '' else format(' and %s or less', p_max) end
      using errcode = 'QB008';
  end if;
  return p_value;
end
$$;
comment on function perf.require_threshold(anycompatible, text, anycompatible, anycompatible) is
  'Guard of the perf functions: a threshold is given (QB001) and within p_min..p_max (p_max null: no upper bound; QB008). Returns the value.';
revoke all on function perf.require_threshold(anycompatible, text, anycompatible, anycompatible) from public;
