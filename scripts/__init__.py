"""Developer scripts run from the repository root: the synth report (`make report`) and the synth benchmark."""
