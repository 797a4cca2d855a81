"""bowgram's trainer and exporter: trains the two models (torch) and writes validated bundles
through `bowgram.runtime`'s bundle format. Needs the `[export]` extra."""
