-- Foundation: member profiles, licences, reference data, and credentials kept
-- where no user role can read them.
--
-- Supabase grants ALL on new tables and EXECUTE on new functions to anon and
-- authenticated by default; every object here therefore revokes first and
-- grants exactly what its policy allows.

create schema if not exists private;
revoke all on schema private from public, anon, authenticated;
grant usage on schema private to service_role;

-- ---------------------------------------------------------------------------
-- Reference data
-- ---------------------------------------------------------------------------
create table public.jurisdictions (
  code    text primary key check (code ~ '^[A-Z]{2}$'),
  name    text not null,
  country text not null check (country in ('US', 'CA'))
);

create table public.languages (
  code text primary key check (code ~ '^[a-z]{2,3}$'),
  name text not null
);

alter table public.jurisdictions enable row level security;
alter table public.languages enable row level security;
revoke all on public.jurisdictions, public.languages from public, anon, authenticated;
grant select on public.jurisdictions, public.languages to authenticated, service_role;
create policy "members read jurisdictions" on public.jurisdictions
  for select to authenticated using (true);
create policy "members read languages" on public.languages
  for select to authenticated using (true);

insert into public.jurisdictions (code, name, country) values
  ('AL','Alabama','US'),('AK','Alaska','US'),('AZ','Arizona','US'),('AR','Arkansas','US'),
  ('CA','California','US'),('CO','Colorado','US'),('CT','Connecticut','US'),('DE','Delaware','US'),
  ('DC','District of Columbia','US'),('FL','Florida','US'),('GA','Georgia','US'),('HI','Hawaii','US'),
  ('ID','Idaho','US'),('IL','Illinois','US'),('IN','Indiana','US'),('IA','Iowa','US'),
  ('KS','Kansas','US'),('KY','Kentucky','US'),('LA','Louisiana','US'),('ME','Maine','US'),
  ('MD','Maryland','US'),('MA','Massachusetts','US'),('MI','Michigan','US'),('MN','Minnesota','US'),
  ('MS','Mississippi','US'),('MO','Missouri','US'),('MT','Montana','US'),('NE','Nebraska','US'),
  ('NV','Nevada','US'),('NH','New Hampshire','US'),('NJ','New Jersey','US'),('NM','New Mexico','US'),
  ('NY','New York','US'),('NC','North Carolina','US'),('ND','North Dakota','US'),('OH','Ohio','US'),
  ('OK','Oklahoma','US'),('OR','Oregon','US'),('PA','Pennsylvania','US'),('RI','Rhode Island','US'),
  ('SC','South Carolina','US'),('SD','South Dakota','US'),('TN','Tennessee','US'),('TX','Texas','US'),
  ('UT','Utah','US'),('VT','Vermont','US'),('VA','Virginia','US'),('WA','Washington','US'),
  ('WV','West Virginia','US'),('WI','Wisconsin','US'),('WY','Wyoming','US'),
  ('AB','Alberta','CA'),('BC','British Columbia','CA'),('MB','Manitoba','CA'),
  ('NB','New Brunswick','CA'),('NL','Newfoundland and Labrador','CA'),('NS','Nova Scotia','CA'),
  ('NT','Northwest Territories','CA'),('NU','Nunavut','CA'),('ON','Ontario','CA'),
  ('PE','Prince Edward Island','CA'),('QC','Quebec','CA'),('SK','Saskatchewan','CA'),
  ('YT','Yukon','CA');

insert into public.languages (code, name) values
  ('en','English'),('es','Spanish'),('fr','French'),('zh','Mandarin Chinese'),
  ('yue','Cantonese'),('pt','Portuguese'),('de','German'),('it','Italian'),
  ('ru','Russian'),('ar','Arabic'),('he','Hebrew'),('hi','Hindi'),('pa','Punjabi'),
  ('ko','Korean'),('ja','Japanese'),('vi','Vietnamese'),('tl','Tagalog'),
  ('pl','Polish'),('fa','Persian'),('asl','American Sign Language');

-- ---------------------------------------------------------------------------
-- Helpers used by constraints
-- ---------------------------------------------------------------------------
-- A time zone is valid when Postgres can convert a timestamp into it.
-- Marked immutable so it can guard a CHECK constraint: the IANA names a
-- server knows change only with its tzdata, never within a transaction.
create function public.is_iana_timezone(tz text)
returns boolean
language plpgsql
immutable
set search_path = ''
as $$
begin
  if tz is null or tz !~ '^[A-Za-z_]+(/[A-Za-z0-9_+-]+){1,2}$' then
    return false;
  end if;
  perform pg_catalog.now() at time zone tz;
  return true;
exception when invalid_parameter_value then
  return false;
end;
$$;
revoke all on function public.is_iana_timezone(text) from public, anon;
grant execute on function public.is_iana_timezone(text) to authenticated, service_role;

-- ---------------------------------------------------------------------------
-- Profiles: one row per member, keyed by the UUID that is the JWT `sub`.
-- Contact details (email, username) live in private.credentials, not here.
-- ---------------------------------------------------------------------------
create table public.profiles (
  id                 uuid primary key default gen_random_uuid(),
  display_name       text not null
                     constraint profiles_display_name_length
                     check (char_length(btrim(display_name)) between 2 and 80),
  pronouns           text
                     constraint profiles_pronouns_length check (char_length(pronouns) <= 40),
  languages          text[] not null default '{en}'
                     constraint profiles_languages_present check (cardinality(languages) between 1 and 10),
  offers_telehealth  boolean not null default true,
  offers_in_person   boolean not null default false,
  city               text
                     constraint profiles_city_length check (char_length(city) <= 80),
  fee_usd            integer
                     constraint profiles_fee_range check (fee_usd between 0 and 1000),
  sliding_scale      boolean not null default false,
  years_in_practice  integer
                     constraint profiles_years_range check (years_in_practice between 0 and 70),
  timezone           text not null default 'America/New_York'
                     constraint profiles_timezone_valid check (public.is_iana_timezone(timezone)),
  bio                text
                     constraint profiles_bio_length check (char_length(bio) <= 2000),
  is_consultant      boolean not null default false,
  version            integer not null default 1,
  created_at         timestamptz not null default now(),
  updated_at         timestamptz not null default now(),
  constraint profiles_in_person_needs_city
    check (not offers_in_person or char_length(btrim(coalesce(city, ''))) > 0),
  constraint profiles_offers_a_format
    check (offers_telehealth or offers_in_person)
);

-- A licence is held in one jurisdiction; a clinician licensed in two states
-- holds two rows. Verification is an admin's act (a later issue adds the queue).
create table public.licenses (
  id                   uuid primary key default gen_random_uuid(),
  profile_id           uuid not null references public.profiles (id) on delete cascade,
  license_type         text not null
                       constraint licenses_type_length check (char_length(btrim(license_type)) between 2 and 40),
  license_number       text not null
                       constraint licenses_number_format check (license_number ~ '^[A-Za-z0-9][A-Za-z0-9 ./-]{1,39}$'),
  jurisdiction         text not null references public.jurisdictions (code),
  expires_on           date not null,
  verification_status  text not null default 'self_attested'
                       check (verification_status in ('self_attested', 'verified', 'rejected')),
  verified_at          timestamptz,
  created_at           timestamptz not null default now(),
  constraint licenses_one_per_jurisdiction unique (profile_id, jurisdiction)
);
-- Search narrows by jurisdiction first; covering, so that step reads only the index.
create index licenses_jurisdiction_idx on public.licenses (jurisdiction, expires_on) include (profile_id);

-- ---------------------------------------------------------------------------
-- Credentials: usernames, emails, password hashes and lockout state.
-- In the private schema: no user role has any privilege on it.
-- ---------------------------------------------------------------------------
create table private.credentials (
  user_id          uuid primary key references public.profiles (id) on delete cascade,
  username         text not null
                   constraint credentials_username_format check (username ~ '^[a-z0-9_.-]{3,30}$'),
  email            text not null
                   constraint credentials_email_format check (email ~ '^[^@\s]+@[^@\s]+\.[^@\s]+$'),
  password_hash    text not null check (password_hash like '$2%'),
  is_admin         boolean not null default false,
  failed_attempts  integer not null default 0 check (failed_attempts >= 0),
  locked_until     timestamptz,
  created_at       timestamptz not null default now()
);
create unique index credentials_username_key on private.credentials (username);
create unique index credentials_email_key on private.credentials (lower(email));

alter table private.credentials enable row level security;
revoke all on private.credentials from public, anon, authenticated;
grant select, insert, update on private.credentials to service_role;

-- ---------------------------------------------------------------------------
-- Who is an administrator. SECURITY DEFINER because policies on profiles
-- need it and members cannot read private.credentials; it reveals one bit
-- about the caller only.
-- ---------------------------------------------------------------------------
create function public.is_admin()
returns boolean
language sql
stable
security definer
set search_path = ''
as $$
  select coalesce(
    (select c.is_admin from private.credentials c where c.user_id = auth.uid()),
    false)
$$;
revoke all on function public.is_admin() from public, anon;
grant execute on function public.is_admin() to authenticated, service_role;

-- ---------------------------------------------------------------------------
-- Row-level security: a member reads their own profile and consultants'
-- profiles (the directory); seekers' profiles stay private. Only the owner
-- changes their row, and only the columns they may change.
-- ---------------------------------------------------------------------------
alter table public.profiles enable row level security;
alter table public.licenses enable row level security;
revoke all on public.profiles, public.licenses from public, anon, authenticated;

grant select on public.profiles to authenticated;
grant update (display_name, pronouns, languages, offers_telehealth, offers_in_person, city,
              fee_usd, sliding_scale, years_in_practice, timezone, bio, is_consultant,
              version, updated_at)
  on public.profiles to authenticated;
grant all on public.profiles, public.licenses to service_role;

create policy "members read own profile and consultants" on public.profiles
  for select to authenticated
  using (id = (select auth.uid()) or is_consultant or (select public.is_admin()));
create policy "members update own profile" on public.profiles
  for update to authenticated
  using (id = (select auth.uid()))
  with check (id = (select auth.uid()));

grant select, insert, delete on public.licenses to authenticated;
grant update (license_type, license_number, jurisdiction, expires_on, verification_status, verified_at)
  on public.licenses to authenticated;
create policy "licences visible with their profile" on public.licenses
  for select to authenticated
  using (exists (select 1 from public.profiles p where p.id = profile_id));
create policy "members add own licences" on public.licenses
  for insert to authenticated
  with check (profile_id = (select auth.uid()) and verification_status = 'self_attested');
create policy "members change own licences" on public.licenses
  for update to authenticated
  using (profile_id = (select auth.uid()))
  with check (profile_id = (select auth.uid()) and verification_status = 'self_attested');

-- Changing what a licence says withdraws its verification: an admin must look again.
create function private.licenses_reset_verification()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  if (new.license_type, new.license_number, new.jurisdiction, new.expires_on)
     is distinct from (old.license_type, old.license_number, old.jurisdiction, old.expires_on) then
    new.verification_status := 'self_attested';
    new.verified_at := null;
  end if;
  return new;
end;
$$;
create trigger licenses_reset_verification
  before update on public.licenses
  for each row execute function private.licenses_reset_verification();
create policy "members remove own licences" on public.licenses
  for delete to authenticated
  using (profile_id = (select auth.uid()));
