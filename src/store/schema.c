/* SPDX-License-Identifier: MIT */
/*
 * SQLite schema migrations. migrations[i] takes a store from version i to i + 1; a store
 * records its version in PRAGMA user_version. Never edit a migration that has shipped: add one.
 */
#include "store/store_int.h"

const char *const loa_sqlite_migrations[] = {
    /* 1: Pages, subscribers, tags. */
    "CREATE TABLE meta ("
    "  key TEXT PRIMARY KEY,"
    "  value BLOB NOT NULL"
    ") WITHOUT ROWID;"
    "CREATE TABLE pages ("
    "  id INTEGER PRIMARY KEY,"
    "  page_id TEXT NOT NULL UNIQUE,"
    "  name TEXT NOT NULL DEFAULT '',"
    "  token_enc BLOB,"
    "  app_secret_enc BLOB,"
    "  timezone TEXT NOT NULL DEFAULT 'Asia/Ho_Chi_Minh',"
    "  activated_at INTEGER NOT NULL,"
    "  daily_cap INTEGER NOT NULL DEFAULT 5000 CHECK (daily_cap > 0),"
    "  plan_quota INTEGER NOT NULL DEFAULT 0 CHECK (plan_quota >= 0),"
    "  created_at INTEGER NOT NULL"
    ");"
    "CREATE TABLE subscribers ("
    "  id INTEGER PRIMARY KEY,"
    "  page_ref INTEGER NOT NULL REFERENCES pages(id) ON DELETE CASCADE,"
    "  psid TEXT,"
    "  first_name TEXT,"
    "  last_name TEXT,"
    "  gender TEXT CHECK (gender IN ('male', 'female')),"
    "  locale TEXT,"
    "  utc_offset_min INTEGER,"
    "  phone TEXT,"
    "  email TEXT,"
    "  first_seen_at INTEGER NOT NULL DEFAULT 0,"
    "  last_interaction_at INTEGER NOT NULL DEFAULT 0,"
    "  last_interaction_kind TEXT,"
    "  unreachable INTEGER NOT NULL DEFAULT 0,"
    "  unreachable_reason TEXT,"
    "  attrs TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(attrs)),"
    "  created_at INTEGER NOT NULL,"
    "  updated_at INTEGER NOT NULL"
    ");"
    "CREATE UNIQUE INDEX subscribers_psid ON subscribers(page_ref, psid) WHERE psid IS NOT NULL;"
    "CREATE INDEX subscribers_phone ON subscribers(page_ref, phone) WHERE phone IS NOT NULL;"
    "CREATE TABLE tags ("
    "  id INTEGER PRIMARY KEY,"
    "  page_ref INTEGER NOT NULL REFERENCES pages(id) ON DELETE CASCADE,"
    "  name TEXT NOT NULL,"
    "  UNIQUE (page_ref, name)"
    ");"
    "CREATE TABLE subscriber_tags ("
    "  subscriber_id INTEGER NOT NULL REFERENCES subscribers(id) ON DELETE CASCADE,"
    "  tag_id INTEGER NOT NULL REFERENCES tags(id) ON DELETE CASCADE,"
    "  PRIMARY KEY (subscriber_id, tag_id)"
    ") WITHOUT ROWID;"
    "CREATE INDEX subscriber_tags_tag ON subscriber_tags(tag_id, subscriber_id);",

    /* 2: imported lists (CRM phone lists, --list on import). */
    "CREATE TABLE lists ("
    "  id INTEGER PRIMARY KEY,"
    "  page_ref INTEGER NOT NULL REFERENCES pages(id) ON DELETE CASCADE,"
    "  name TEXT NOT NULL,"
    "  created_at INTEGER NOT NULL,"
    "  UNIQUE (page_ref, name)"
    ");"
    "CREATE TABLE list_members ("
    "  list_id INTEGER NOT NULL REFERENCES lists(id) ON DELETE CASCADE,"
    "  subscriber_id INTEGER NOT NULL REFERENCES subscribers(id) ON DELETE CASCADE,"
    "  PRIMARY KEY (list_id, subscriber_id)"
    ") WITHOUT ROWID;",
};

const int loa_sqlite_latest_version =
    (int)(sizeof(loa_sqlite_migrations) / sizeof(loa_sqlite_migrations[0]));
