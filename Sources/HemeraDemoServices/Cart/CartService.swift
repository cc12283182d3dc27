public import Hemera

/// The `cart` service: ``AddProduct``, ``ShowCart``, ``ClearCart``. It calls `products` for the
/// product details, so it needs that service running somewhere on the same NATS.
public enum CartService {
    /// Registers every action of the service, in one place, over a fresh empty cart.
    public static func register(on hemera: Hemera) throws {
        let store = CartStore()
        try hemera.add(AddProductAction(store: store))
        try hemera.add(ShowCartAction(store: store))
        try hemera.add(ClearCartAction(store: store))
    }
}
