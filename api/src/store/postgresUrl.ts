// What Mako needs to know of a PostgreSQL URL before it loads the driver: kept apart from
// PostgresStore so that commands which never touch PostgreSQL do not load `pg`.

/** The schema of Mako's own tables; a data source cannot take this name. */
export const METADATA_SCHEMA = "mako";

export const isPostgresUrl = (url: string): boolean => !!url && /^postgres(ql)?:\/\//i.test(url);

/** The PostgreSQL role `mako sql` runs as when DATABASE_URL's own role could reach the server's OS. */
export const READER_ROLE = "mako_reader";
