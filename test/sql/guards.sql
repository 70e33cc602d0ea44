-- The shared argument guards (functions/app/guards.sql) on the inputs the fuzz test cannot
-- reach one by one: every Unicode blank character alone, mixed with ASCII blanks, and inside a
-- text that is not blank; nested id arrays. Runs as the superuser, rolled back.
begin;
select plan(22);

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

-- batches (app.require_items): the whole batch is checked before anything is written; the
-- first bad item (by position) is named with its field
create function pg_temp.batch_guard(p_items jsonb) returns text language plpgsql as $$
begin
  perform app.require_items(p_items, 'p_messages',
    '{"role": {"type": "text", "required": true, "values": ["user", "assistant"]},
      "content": {"type": "text", "required": true, "nonblank": true},
      "token_count": {"type": "integer", "min": 0},
      "ref": {"type": "bigint"}, "meta": {"type": "object"}}', 3);
  return 'ok';
exception when others then
  return sqlstate || ' ' || sqlerrm;
end
$$;
select is(pg_temp.batch_guard('[{"role": "user", "content": "hi", "token_count": 3, "ref": 9007199254740993, "meta": {}}, {"role": "assistant", "content": "x"}]'),
  'ok', 'a well-formed batch passes; optional fields may be left out');
select is(pg_temp.batch_guard(null), 'QB001 p_messages must not be null', 'null: QB001');
select is(pg_temp.batch_guard('{"role": "user"}'), 'QB011 p_messages must be a json array of objects, not a json object', 'not an array: QB011');
select is(pg_temp.batch_guard('[]'), 'QB002 p_messages must not be empty', 'empty: QB002');
select is(pg_temp.batch_guard('[{"role": "user", "content": "a"}, {"role": "user", "content": "b"}, {"role": "user", "content": "c"}, {"role": "user", "content": "d"}]'),
  'QB003 p_messages has 4 items; at most 3 are allowed', 'too many items: QB003');
select is(pg_temp.batch_guard('[{"role": "user", "content": "a"}, 7]'), 'QB011 p_messages[1]: must be a json object, not a json number', 'an item that is not an object');
select is(pg_temp.batch_guard('[{"role": "user", "content": "a", "contnt": "b"}]'),
  'QB011 p_messages[0].contnt: is not a field of this batch (fields: content, meta, ref, role, token_count)', 'an unknown key (a typo) is refused, not ignored');
select is(pg_temp.batch_guard('[{"role": "user", "content": "a"}, {"content": "b"}]'), 'QB011 p_messages[1].role: is required', 'a missing required field, by position');
select is(pg_temp.batch_guard('[{"role": "user", "content": "a"}, {"role": "admin", "content": "b"}, {"role": null, "content": "c"}]'),
  'QB011 p_messages[1].role: must be one of user, assistant, not "admin"', 'a value outside the allowed ones; the first bad item is named');
select is(pg_temp.batch_guard(format('[{"role": "user", "content": "%s"}]', U&'\3000\200B')::jsonb), 'QB011 p_messages[0].content: must not be blank', 'a Unicode-blank text');
select results_eq(
  $$ select pg_temp.batch_guard(format('[{"role": "user", "content": "a", "token_count": %s}]', v)::jsonb)
     from unnest(array['"3"', '3.5', '-1', '2147483648', 'true']) with ordinality u(v, n) order by n $$,
  $$ values ('QB011 p_messages[0].token_count: must be an integer, not "3"'), ('QB011 p_messages[0].token_count: must be an integer, not 3.5'),
            ('QB011 p_messages[0].token_count: must be at least 0, not -1'), ('QB011 p_messages[0].token_count: must be an integer, not 2147483648'),
            ('QB011 p_messages[0].token_count: must be an integer, not true') $$,
  'wrong types, fractions, out-of-range integers and values below the minimum');
select is(pg_temp.batch_guard('[{"role": "user", "content": "a", "meta": [1]}]'), 'QB011 p_messages[0].meta: must be an object, not [1]', 'an array where an object is wanted');
select * from finish();
rollback;
