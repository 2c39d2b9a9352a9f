//! All inboxes behind one async `next_ready`: resumed files first, then
//! claimed files as they settle; events only wake a scan early.

use std::collections::{HashSet, VecDeque};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use notify::{EventKind, RecommendedWatcher, RecursiveMode, Watcher};
use tokio::sync::mpsc;

use super::scanner::Scanner;
use super::workdir::ClaimedFile;
use super::WatchError;
use crate::config::{Inbox, InboxMode, Service};

/// Floor of both periods, so a zero in the settings cannot spin.
const MIN_PERIOD: Duration = Duration::from_millis(10);

/// How often inboxes are listed when no event says so.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct WatchSettings {
    /// Full scan of every inbox (`[service] scan_interval_s`).
    pub scan_interval: Duration,
    /// Scan period of `poll` inboxes, where no event ever arrives.
    pub poll_period: Duration,
}

impl WatchSettings {
    /// From the `[service]` section; `poll` inboxes are listed every second
    /// (or every `scan_interval_s` if shorter).
    pub(crate) fn from_service(service: &Service) -> WatchSettings {
        let scan_interval = Duration::from_secs(service.scan_interval_s.max(1));
        WatchSettings {
            scan_interval,
            poll_period: scan_interval.min(Duration::from_secs(1)),
        }
    }
}

struct InboxState {
    scanner: Scanner,
    mode: InboxMode,
    /// Last listing error, logged once until the inbox is readable again.
    failing: Option<String>,
}

/// Every configured inbox. Call [`Inboxes::next_ready`] in a loop.
pub(crate) struct Inboxes {
    inboxes: Vec<InboxState>,
    settings: WatchSettings,
    resumed: VecDeque<ClaimedFile>,
    ready: VecDeque<(usize, PathBuf)>,
    hints: mpsc::UnboundedReceiver<usize>,
    /// Keeps `hints` open when no inbox has a watcher.
    _hint_sender: mpsc::UnboundedSender<usize>,
    _watchers: Vec<RecommendedWatcher>,
    claim_failures: HashSet<PathBuf>,
    scan_requested: bool,
    next_full_scan: Instant,
    next_poll: Option<Instant>,
    next_check: Option<Instant>,
}

impl Inboxes {
    /// [`Inboxes::for_instance`] for a process alone on its inboxes.
    #[cfg(test)]
    pub(crate) fn new(inboxes: &[Inbox], settings: WatchSettings) -> Result<Inboxes, WatchError> {
        Inboxes::for_instance(inboxes, settings, None)
    }

    /// Prepares each inbox's work folders (refusing one on another volume),
    /// queues the files left in `processando/` and starts a watcher per
    /// `watch` inbox (an inbox whose watcher cannot start is polled, with a
    /// warning). Index `i` of `inboxes` is `ClaimedFile::inbox_index`. For
    /// one of several instances on these inboxes (`instance`), files are
    /// claimed into `processando/<instance>/`, and only those are resumed.
    pub(crate) fn for_instance(
        inboxes: &[Inbox],
        settings: WatchSettings,
        instance: Option<&str>,
    ) -> Result<Inboxes, WatchError> {
        let (sender, hints) = mpsc::unbounded_channel();
        let mut states = Vec::with_capacity(inboxes.len());
        let mut resumed = VecDeque::new();
        let mut watchers = Vec::new();
        for (index, inbox) in inboxes.iter().enumerate() {
            let settle = Duration::from_millis(inbox.settle_ms);
            let scanner = Scanner::for_instance(index, &inbox.path, settle, instance)?;
            resumed.extend(scanner.leftovers()?);
            let mut mode = inbox.mode;
            if mode == InboxMode::Watch {
                match start_watcher(index, inbox, sender.clone()) {
                    Ok(watcher) => watchers.push(watcher),
                    Err(e) => {
                        tracing::warn!(
                            inbox = %inbox.path.display(),
                            "não foi possível observar eventos da pasta ({e}); usando varredura periódica"
                        );
                        mode = InboxMode::Poll;
                    }
                }
            }
            states.push(InboxState {
                scanner,
                mode,
                failing: None,
            });
        }
        Ok(Inboxes {
            inboxes: states,
            settings,
            resumed,
            ready: VecDeque::new(),
            hints,
            _hint_sender: sender,
            _watchers: watchers,
            claim_failures: HashSet::new(),
            scan_requested: true,
            next_full_scan: Instant::now(),
            next_poll: None,
            next_check: None,
        })
    }

    /// The next file to process, already claimed (renamed into
    /// `processando/`): first those resumed from a previous run, then new
    /// ones as they settle. Cancel-safe (use it in `tokio::select!` with the
    /// shutdown signal): a file is claimed only right before it is
    /// returned. Listing and renaming block on the disk (a network share
    /// can take seconds): they run through `service::blocking`, so the
    /// runtime's other tasks (the metrics port, sends) go on meanwhile.
    pub(crate) async fn next_ready(&mut self) -> ClaimedFile {
        loop {
            if let Some(claimed) = self.resumed.pop_front() {
                return claimed;
            }
            while let Some((index, path)) = self.ready.pop_front() {
                let scanner = &mut self.inboxes[index].scanner;
                match crate::service::blocking(|| scanner.claim(&path)) {
                    Ok(Some(claimed)) => return claimed,
                    Ok(None) => {}
                    Err(e) => {
                        // Not yet, never a failure: on Windows a writer that
                        // holds the file open refuses the rename. The file
                        // stays in the inbox and is tried again once it
                        // settles again; said once per path.
                        if self.claim_failures.insert(path) {
                            tracing::warn!(
                                "{e}; o arquivo continua na pasta de entrada e será pego quando \
                                 o programa que o grava o liberar"
                            );
                        }
                    }
                }
            }
            let now = Instant::now();
            if self.scan_due(now) {
                crate::service::blocking(|| self.scan_all(now));
                continue;
            }
            let wake_at = [Some(self.next_full_scan), self.next_poll, self.next_check]
                .into_iter()
                .flatten()
                .min()
                .unwrap_or(self.next_full_scan);
            tokio::select! {
                hint = self.hints.recv() => {
                    if hint.is_some() {
                        while self.hints.try_recv().is_ok() {}
                        self.scan_requested = true;
                    }
                }
                () = tokio::time::sleep_until(wake_at.into()) => {}
            }
        }
    }

    /// Moves a file another instance claimed (at `from`, recorded in the
    /// ledger for inbox `inbox`) into this instance's `processando/`:
    /// `prepare` gets the new path first (the caller records it), then the
    /// file is moved there. `None` when `inbox` is not one of ours.
    pub(crate) fn adopt(
        &self,
        inbox: &std::path::Path,
        from: &std::path::Path,
        prepare: impl FnOnce(&std::path::Path) -> Result<(), String>,
    ) -> Option<Result<ClaimedFile, String>> {
        let scanner = &self
            .inboxes
            .iter()
            .find(|s| s.scanner.inbox() == inbox)?
            .scanner;
        let work = scanner.work();
        let adopted = (|| {
            let to = work.adoption_target(from).map_err(|e| e.to_string())?;
            prepare(&to)?;
            super::workdir::adopt(scanner.index(), work, from, to).map_err(|e| e.to_string())
        })();
        Some(adopted)
    }

    fn scan_due(&self, now: Instant) -> bool {
        self.scan_requested
            || now >= self.next_full_scan
            || self.next_poll.is_some_and(|t| now >= t)
            || self.next_check.is_some_and(|t| now >= t)
    }

    /// Lists every inbox (a scan is cheap; events do not say which file
    /// changed reliably anyway) and queues the ready files.
    fn scan_all(&mut self, now: Instant) {
        self.scan_requested = false;
        self.next_check = None;
        self.ready.clear();
        for (index, inbox) in self.inboxes.iter_mut().enumerate() {
            match inbox.scanner.poll(now) {
                Ok(scan) => {
                    if inbox.failing.take().is_some() {
                        tracing::info!(inbox = %inbox.scanner.inbox().display(), "pasta de entrada acessível de novo");
                    }
                    self.ready
                        .extend(scan.ready.into_iter().map(|p| (index, p)));
                    self.next_check = [self.next_check, scan.next_check]
                        .into_iter()
                        .flatten()
                        .min();
                }
                Err(e) => {
                    let message = e.to_string();
                    if inbox.failing.as_deref() != Some(message.as_str()) {
                        tracing::warn!("{message}");
                        inbox.failing = Some(message);
                    }
                }
            }
        }
        if now >= self.next_full_scan {
            self.next_full_scan = now + self.settings.scan_interval.max(MIN_PERIOD);
        }
        let any_polled = self.inboxes.iter().any(|i| i.mode == InboxMode::Poll);
        self.next_poll = any_polled.then(|| now + self.settings.poll_period.max(MIN_PERIOD));
    }
}

/// A non-recursive watcher whose every event or error asks for a scan of
/// inbox `index` (overflow arrives as an event flagged `need_rescan`).
/// Access events are dropped: our own readability check opens files.
fn start_watcher(
    index: usize,
    inbox: &Inbox,
    sender: mpsc::UnboundedSender<usize>,
) -> notify::Result<RecommendedWatcher> {
    let path = inbox.path.clone();
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        match event {
            Ok(event) if matches!(event.kind, EventKind::Access(_)) && !event.need_rescan() => {
                return
            }
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(inbox = %path.display(), "erro ao observar a pasta: {e}; varrendo");
            }
        }
        let _ = sender.send(index);
    })?;
    watcher.watch(&inbox.path, RecursiveMode::NonRecursive)?;
    Ok(watcher)
}
