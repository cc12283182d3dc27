// README: interceptors and middleware
import Hemera

/// Client side: runs around every act of the instance.
struct AddToken: HemeraClientInterceptor {
    var token: String

    func intercept(
        _ request: ActRequest,
        next: @Sendable (ActRequest) async throws -> ActResponse
    ) async throws -> ActResponse {
        var request = request
        request.meta["token"] = .string(token)  // sent along, inherited by nested acts
        return try await next(request)
    }
}

/// Service side: hooks on request, before the handler, before sending, after the reply, on error.
struct CountErrors: HemeraServerInterceptor {
    let onFailure: @Sendable (String) -> Void

    func onError(_ error: HemeraError, context: HemeraContext) async {
        onFailure("\(context.request.method): \(error.name)")
    }
}

/// Per action: runs around the handler, after validation.
let requireToken = HemeraMiddleware { context, next in
    guard context.meta["token"] != nil else {
        throw HemeraError(name: "Unauthorized", message: "A token is required", code: "E_AUTH")
    }
    try await next()
}

func shopOptions(onFailure: @escaping @Sendable (String) -> Void) -> HemeraOptions {
    HemeraOptions(
        app: "shop",
        clientInterceptors: [AddToken(token: "s3cret")],
        serverInterceptors: [CountErrors(onFailure: onFailure)]
    )
}

func guardedAdd(_ hemera: Hemera) async throws -> Int {
    try hemera.add(AddAction(), options: AddOptions(middleware: [requireToken]))
    return try await hemera.act(Add(a: 2, b: 3))  // 5, the token came from AddToken
}
// END
