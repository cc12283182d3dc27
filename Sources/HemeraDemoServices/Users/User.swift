import Synchronization

/// A user of the shop.
public struct User: Codable, Sendable, Equatable {
    public var id: Int
    public var name: String
    public var email: String

    public init(id: Int, name: String, email: String) {
        self.id = id
        self.name = name
        self.email = email
    }
}

/// The users service's data, in memory (a database in the seed).
final class UserStore: Sendable {
    private let users: Mutex<[User]>

    init(_ users: [User] = UserStore.sample) {
        self.users = Mutex(users)
    }

    static let sample = [
        User(id: 1, name: "Ada Lovelace", email: "ada@example.com"),
        User(id: 2, name: "Grace Hopper", email: "grace@example.com"),
        User(id: 3, name: "Alan Kay", email: "alan@example.com"),
    ]

    var all: [User] { users.withLock { $0 } }

    func user(id: Int) -> User? { users.withLock { list in list.first { $0.id == id } } }
}
