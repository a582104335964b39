import Testing

/// Suites that keep both cores busy for a minute or more (headless chromium; twenty TFTP
/// transfers through a lossy network namespace) run one at a time: together, each starves the
/// other's timeouts on a two-core machine (a CI run had TFTP transfers give up while the browsers
/// ran). The other suites still run beside them.
@Suite(.serialized) enum HeavyTests {}
