public import Hemera

/// The `products` service: ``ListProducts``, ``GetProduct``, ``UpdateProduct``.
public enum ProductsService {
    /// Registers every action of the service, in one place, over a fresh sample store.
    public static func register(on hemera: Hemera) throws {
        let store = ProductStore()
        try hemera.add(ListProductsAction(store: store))
        try hemera.add(GetProductAction(store: store))
        try hemera.add(UpdateProductAction(store: store))
    }
}
