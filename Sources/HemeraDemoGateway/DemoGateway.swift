public import Hemera
public import HemeraGateway
public import Logging

/// The article's HTTP API over the demo services: the cart, products and users routes, each
/// calling one action with `act`, plus `POST /act/{topic}/{cmd}` for the four demo topics.
public enum DemoGateway {
    /// The routes of the article's API.
    public static let routes: [GatewayRoute] = [
        .get("/cart", act: "topic:cart,cmd:show", summary: "The cart: each product's details, quantity and subtotal"),
        .post("/cart", act: "topic:cart,cmd:addProduct", summary: "Adds {productId, quantity} to the cart"),
        .delete("/cart", act: "topic:cart,cmd:clear", summary: "Empties the cart"),
        .get("/products", act: "topic:products,cmd:list", summary: "Every product"),
        .get(
            "/products/{id}",
            act: "topic:products,cmd:get",
            parameters: ["id": .integer],
            summary: "One product"
        ),
        .get("/users", act: "topic:users,cmd:list", summary: "Every user"),
        .get("/users/{id}", act: "topic:users,cmd:get", parameters: ["id": .integer], summary: "One user"),
    ]

    /// The gateway's options for the demo: the generic route reaches the four demo topics only.
    public static func options(logger: Logger, timeout: Duration? = nil) -> GatewayOptions {
        GatewayOptions(
            timeout: timeout,
            actTopics: ["math", "users", "products", "cart"],
            title: "swift-hemera demo shop",
            version: "1.0.0",
            logger: logger
        )
    }

    /// The demo's gateway over `hemera`.
    public static func gateway(hemera: Hemera, logger: Logger, timeout: Duration? = nil) -> HemeraGateway {
        HemeraGateway(hemera: hemera, routes: routes, options: options(logger: logger, timeout: timeout))
    }
}
