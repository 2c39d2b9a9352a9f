//! Exit codes, documented in the README and in `--help`.

/// Every row valid (and sent, for `send`); every check passed (`doctor`).
pub(crate) const OK: i32 = 0;
/// Some rows invalid, or rejected by RNDS.
pub(crate) const ROWS_INVALID: i32 = 1;
/// A file could not be read at all (its `resumo.json` says why).
pub(crate) const UNREADABLE: i32 = 2;
/// Configuration error (including those RNDS reports: EHR-ERR881/884/906,
/// certificate), and a ledger refused at start: lost, busy, or a PostgreSQL
/// database without one (`init-ledger --confirm` creates it on a lab's
/// first start; `init-ledger` without `--confirm` exits 3 too, nothing done).
pub(crate) const CONFIG: i32 = 3;
/// Rows still pending because RNDS could not be reached; for `run` and
/// `send`, the certificate's token (A3) is not connected at start (the
/// service manager restarts `run`, unlike after 3).
pub(crate) const PENDING: i32 = 4;
/// Unexpected internal failure (a defect, or the runtime cannot start).
pub(crate) const INTERNAL: i32 = 5;
/// The command line itself is wrong (unknown option, missing argument):
/// 64, `EX_USAGE` of sysexits.h; clap's own 2 is "file unreadable" here.
pub(crate) const USAGE: i32 = 64;
