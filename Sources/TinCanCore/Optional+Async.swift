extension Optional {
    /// `map` for an async transform: a service's optional listener (`tcpPort.asyncMap(bind)`).
    package func asyncMap<T>(_ transform: (Wrapped) async throws -> T) async throws -> T? {
        guard let self else { return nil }
        return try await transform(self)
    }
}
