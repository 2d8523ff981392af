//! The error of opening, connecting to or migrating a store.

/// A database error from opening, connecting to or migrating a store: what an
/// application sees without depending on sqlx (the driver's error is its
/// [`source`](std::error::Error::source)).
#[derive(Debug)]
pub struct DbError(sqlx::Error);

impl DbError {
    /// A configuration that cannot work, said in words.
    pub fn configuration(why: &str) -> Self {
        DbError(sqlx::Error::Configuration(why.to_owned().into()))
    }
}

impl std::fmt::Display for DbError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for DbError {
    // The driver's message is this error's message; its cause is the cause.
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

impl From<sqlx::Error> for DbError {
    fn from(e: sqlx::Error) -> Self {
        DbError(e)
    }
}

impl From<sqlx::migrate::MigrateError> for DbError {
    fn from(e: sqlx::migrate::MigrateError) -> Self {
        DbError(e.into())
    }
}
