-- The shared argument guards (functions/app/guards.sql) on the inputs the fuzz test cannot
-- reach one by one: every Unicode blank character alone, mixed with ASCII blanks, and inside a
-- text that is not blank; nested id arrays. Runs as the superuser, rolled back.
begin;
select plan(10);

-- the SQLSTATE a call of the blank guard raises, or 'ok'
create function pg_temp.blank_guard(p_value text) returns text language plpgsql as $$
begin
  perform app.require_not_blank(p_value, 'p_value');
  return 'ok';
exception when others then
  return sqlstate;
end
$$;

-- Unicode's space separators (Zs), line and paragraph separators, the other White_Space
-- characters, and the zero-width and format characters used as blanks.
create temporary table blank_characters (cp integer primary key, name text not null) on commit drop;
insert into blank_characters values
  (x'0009'::int, 'CHARACTER TABULATION'), (x'000A'::int, 'LINE FEED'), (x'000B'::int, 'LINE TABULATION'),
  (x'000C'::int, 'FORM FEED'), (x'000D'::int, 'CARRIAGE RETURN'), (x'0020'::int, 'SPACE'),
  (x'0085'::int, 'NEXT LINE'), (x'00A0'::int, 'NO-BREAK SPACE'), (x'00AD'::int, 'SOFT HYPHEN'),
  (x'034F'::int, 'COMBINING GRAPHEME JOINER'), (x'061C'::int, 'ARABIC LETTER MARK'),
  (x'115F'::int, 'HANGUL CHOSEONG FILLER'), (x'1160'::int, 'HANGUL JUNGSEONG FILLER'),
  (x'1680'::int, 'OGHAM SPACE MARK'), (x'180E'::int, 'MONGOLIAN VOWEL SEPARATOR'),
  (x'2000'::int, 'EN QUAD'), (x'2001'::int, 'EM QUAD'), (x'2002'::int, 'EN SPACE'), (x'2003'::int, 'EM SPACE'),
  (x'2004'::int, 'THREE-PER-EM SPACE'), (x'2005'::int, 'FOUR-PER-EM SPACE'), (x'2006'::int, 'SIX-PER-EM SPACE'),
  (x'2007'::int, 'FIGURE SPACE'), (x'2008'::int, 'PUNCTUATION SPACE'), (x'2009'::int, 'THIN SPACE'),
  (x'200A'::int, 'HAIR SPACE'), (x'200B'::int, 'ZERO WIDTH SPACE'), (x'200C'::int, 'ZERO WIDTH NON-JOINER'),
  (x'200D'::int, 'ZERO WIDTH JOINER'), (x'200E'::int, 'LEFT-TO-RIGHT MARK'), (x'200F'::int, 'RIGHT-TO-LEFT MARK'),
  (x'2028'::int, 'LINE SEPARATOR'), (x'2029'::int, 'PARAGRAPH SEPARATOR'), (x'202A'::int, 'LEFT-TO-RIGHT EMBEDDING'),
  (x'202E'::int, 'RIGHT-TO-LEFT OVERRIDE'), (x'202F'::int, 'NARROW NO-BREAK SPACE'),
  (x'205F'::int, 'MEDIUM MATHEMATICAL SPACE'), (x'2060'::int, 'WORD JOINER'), (x'2063'::int, 'INVISIBLE SEPARATOR'),
  (x'2066'::int, 'LEFT-TO-RIGHT ISOLATE'), (x'2800'::int, 'BRAILLE PATTERN BLANK'), (x'3000'::int, 'IDEOGRAPHIC SPACE'),
  (x'3164'::int, 'HANGUL FILLER'), (x'FE0F'::int, 'VARIATION SELECTOR-16'), (x'FEFF'::int, 'ZERO WIDTH NO-BREAK SPACE'),
  (x'FFA0'::int, 'HALFWIDTH HANGUL FILLER'), (x'1D173'::int, 'MUSICAL SYMBOL BEGIN BEAM'),
  (x'E0001'::int, 'LANGUAGE TAG'), (x'E0020'::int, 'TAG SPACE');

select is_empty(
  $$ select format('U+%s %s: %s', upper(to_hex(cp)), name, pg_temp.blank_guard(chr(cp))) from blank_characters
     where pg_temp.blank_guard(chr(cp)) <> 'QB008' $$,
  'each blank character alone is blank (QB008)');
select is_empty(
  $$ select format('U+%s %s: %s', upper(to_hex(cp)), name, pg_temp.blank_guard(' ' || chr(cp) || E'\t' || chr(cp) || chr(cp) || E' \n')) from blank_characters
     where pg_temp.blank_guard(' ' || chr(cp) || E'\t' || chr(cp) || chr(cp) || E' \n') <> 'QB008' $$,
  'each blank character mixed with ASCII spaces, tabs and newlines is blank (QB008)');
select is(
  pg_temp.blank_guard((select string_agg(chr(cp), '' order by cp desc) from blank_characters)),
  'QB008', 'all of them together are blank (QB008)');
select is_empty(
  $$ select format('U+%s %s: %s', upper(to_hex(cp)), name, pg_temp.blank_guard(chr(cp) || 'Ada' || chr(cp) || ' x')) from blank_characters
     where pg_temp.blank_guard(chr(cp) || 'Ada' || chr(cp) || ' x') <> 'ok' $$,
  'a text that is not blank is accepted with any of them around and inside it');
select is_empty(
  $$ select v from unnest(array['x', '日本', 'קובץ', 'Δ', '・', '_', '.', '0', U&'\00A0\3000a', 'e' || chr(x'0301'::int)]) v
     where pg_temp.blank_guard(v) <> 'ok' $$,
  'letters, digits and punctuation of any script are not blank');
select is(pg_temp.blank_guard(''), 'QB008', 'the empty text is blank (QB008)');
select is(pg_temp.blank_guard(null), 'QB001', 'null is QB001');

-- nested id arrays: QB010, before anything else about them
select throws_ok($$ select app.require_ids('{{1,2},{3,4}}'::bigint[], 'p_ids') $$, 'QB010', null,
  'a two-dimensional id array is refused with QB010');
select throws_ok($$ select app.require_ids('{{{NULL}}}'::text[], 'p_ids') $$, 'QB010', null,
  'a nested array is QB010 whatever it holds (not QB007 nor 0A000)');
select throws_ok($$ select api.classify_documents(1, '{{1,2},{3,4}}', 'x') $$, 'QB010', null,
  'an api function refuses a nested id array with QB010');
select * from finish();
rollback;
