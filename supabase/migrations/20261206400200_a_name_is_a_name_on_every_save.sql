-- A member's name is a name on every save, not only at registration (issue 23, item 2).
--
-- Registration checked names (portal.auth: letters of any alphabet, spaces, apostrophes, hyphens, full
-- stops), but My profile and the RPC behind it took any 2 to 80 characters, so a display name
-- `![r](http://host/s.png)[Verify licence](http://host/ph)` was saved and then shown to every member who
-- met it. The pages now show every member-typed field as text (portal.plain_text.plain); the database also
-- refuses, on every insert and every change of a display name, whatever no name needs and markup needs:
-- line breaks and other control or invisible formatting characters, and the characters that make links,
-- images and HTML  < > [ ] ( ) { } \ / : ; ! ? @ # $ % ^ & * = + | ~ ` "
-- The rule is stated once, in public.display_name_problem (its sentence, or null for a good name): the
-- registration request (auth_request_registration) and the trigger on profiles both ask it, and so may a
-- page (members and the server may call it; it reads nothing). Names saved before this migration stay
-- until they are next changed.

create function public.display_name_problem(p_name text)
returns text
language sql
immutable
set search_path = ''
as $$
  select case
    when char_length(btrim(coalesce(p_name, ''))) not between 2 and 80
      then 'A name is 2 to 80 characters long.'
    when p_name ~ '[[:cntrl:]\u0080-\u009f\u200b\u200e\u200f\u2028-\u202e\u2060-\u2064\u2066-\u2069\ufeff]'
      then 'A name cannot contain line breaks or other invisible characters.'
    when p_name ~ '[][<>(){}\\/:;!?@#$%^&*=+|~`"]'
      then 'A name may use letters from any alphabet, spaces, apostrophes, hyphens and full stops: no symbols '
           'such as < > [ ] ( ) / : @.'
  end
$$;
revoke all on function public.display_name_problem(text) from public, anon, authenticated;
grant execute on function public.display_name_problem(text) to portal_member, service_role;

create function private.profiles_display_name_is_a_name()
returns trigger
language plpgsql
set search_path = ''
as $$
declare
  problem text;
begin
  if tg_op = 'UPDATE' and new.display_name is not distinct from old.display_name then
    return new;  -- a name saved before the rule stays until it is changed
  end if;
  problem := public.display_name_problem(new.display_name);
  if problem is not null then
    -- A sentence naming its field, as every refusal (issue 22, item 8).
    raise exception '%', problem using errcode = 'P0001', detail = 'display_name';
  end if;
  return new;
end;
$$;
revoke all on function private.profiles_display_name_is_a_name() from public, anon, authenticated;

create trigger profiles_display_name_is_a_name
before insert or update of display_name on public.profiles
for each row execute function private.profiles_display_name_is_a_name();
