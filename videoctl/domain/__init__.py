"""Pure domain logic: states, transitions, retry policy, ladder choice, error kinds. No IO."""
