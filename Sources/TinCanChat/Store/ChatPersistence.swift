/// Carries out the core's questions (``ChatStoreRequest``) with the store, the password hasher
/// and the login throttle, in a task off the event loop (``ChatDriver``), and turns each outcome
/// into the answer the core gets back (``ChatStoreAnswer``). A store that throws is an answer
/// too (``ChatStoreAnswer/failed(_:)``): the live chat goes on without it.
struct ChatPersistence: Sendable {
    let store: any ChatStore

    func perform(_ request: ChatStoreRequest) async -> ChatStoreAnswer {
        do {
            switch request {
            case .account(let folded):
                return .account(try await self.store.account(named: folded)?.name)
            }
        } catch {
            return .failed("\(error)")
        }
    }
}
