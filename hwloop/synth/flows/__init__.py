"""One module per synthesis flow, each registering itself (``hwloop.synth._flows``)."""
