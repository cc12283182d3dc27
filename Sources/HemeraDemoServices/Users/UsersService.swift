public import Hemera

/// The `users` service: ``ListUsers``, ``GetUser``.
public enum UsersService {
    /// Registers every action of the service, in one place, over a fresh sample store.
    public static func register(on hemera: Hemera) throws {
        let store = UserStore()
        try hemera.add(ListUsersAction(store: store))
        try hemera.add(GetUserAction(store: store))
    }
}
