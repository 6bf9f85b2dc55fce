//! The progress bar the binary installs on a terminal (the library only counts work done).

/// An indicatif bar on stderr that stays hidden until a phase has run for a second, so quick
/// runs never flicker.
pub(super) struct Bar {
    bar: indicatif::ProgressBar,
}

impl Bar {
    pub(super) fn new() -> Self {
        let bar =
            indicatif::ProgressBar::with_draw_target(None, indicatif::ProgressDrawTarget::hidden());
        if let Ok(style) =
            indicatif::ProgressStyle::with_template("{msg:>10} [{bar:40}] {pos}/{len} ({eta})")
        {
            bar.set_style(style.progress_chars("=> "));
        }
        Self { bar }
    }
}

impl crate::core::progress::Progress for Bar {
    fn start(&self, what: &str, total: u64) {
        self.bar
            .set_draw_target(indicatif::ProgressDrawTarget::hidden());
        self.bar.reset();
        self.bar.set_length(total);
        self.bar.set_message(what.to_string());
    }

    fn advance(&self, units: u64) {
        self.bar.inc(units);
        if self.bar.is_hidden() && self.bar.elapsed() > std::time::Duration::from_secs(1) {
            self.bar
                .set_draw_target(indicatif::ProgressDrawTarget::stderr());
        }
    }

    fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
