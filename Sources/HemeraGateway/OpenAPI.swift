public import HemeraJSON
import Hemera

extension HemeraGateway {
    /// The OpenAPI 3.1 document of the gateway, served at `GET /openapi.json`.
    ///
    /// One operation per route. A route's path parameters and JSON body are described by the
    /// request schema its action publishes in `$SRV.INFO` (JSON Schema draft 2020-12, the dialect
    /// of OpenAPI 3.1), less the keys the route sets itself; an action no service describes gets
    /// a plain object. Each action found with a `{topic, cmd}` pattern also appears as its own
    /// `POST /act/<topic>/<cmd>`, so the generic route is documented action by action. Every
    /// operation lists the error statuses it can answer, with the error body's schema.
    public func openAPIDocument() -> JSONValue {
        var paths: [String: [String: JSONValue]] = [:]
        for route in routes {
            paths[route.path, default: [:]][route.method.rawValue.lowercased()] = operation(for: route)
        }
        if options.servesGenericAct {
            for (_, action) in catalog.actions.sorted(by: { $0.key < $1.key }) {
                guard action.pattern.count == 2, let topic = action.pattern["topic"]?.stringValue,
                    let cmd = action.pattern["cmd"]?.stringValue, isCallable(topic: topic),
                    Self.isPathSegment(cmd)
                else { continue }
                var route = GatewayRoute.post(
                    "/act/\(topic)/\(cmd)",
                    act: Pattern(action.pattern),
                    body: .object(required: false),
                    summary: "Calls \(topic):\(cmd) (service \(action.service) \(action.version))"
                )
                route.isGenericAct = false
                guard case .object(var documented) = operation(for: route) else { continue }
                // Unique beside the named route calling the same action (`post_cart_addProduct`).
                documented["operationId"] = .string("act_" + route.operationId)
                paths[route.path, default: [:]]["post"] = .object(documented)
            }
        }
        var pathObject: [String: JSONValue] = [:]
        for (path, operations) in paths { pathObject[path] = .object(operations) }
        pathObject["/openapi.json"] = [
            "get": [
                "operationId": "openapi",
                "summary": "This document",
                "responses": ["200": ["description": "The OpenAPI 3.1 document", "content": Self.jsonContent([:])]],
            ]
        ]
        return [
            "openapi": "3.1.0",
            "info": [
                "title": .string(options.title),
                "version": .string(options.version),
                "description": """
                HTTP routes in front of Hemera services: each calls one pattern with `act`. \
                Errors are JSON objects {name, message, code, details}. Send a W3C `traceparent` \
                header to continue a trace; `traceresponse` names it in every response.
                """,
            ],
            "paths": .object(pathObject),
            "components": [
                "schemas": [
                    "Error": [
                        "type": "object",
                        "required": ["name", "message", "code", "details"],
                        "properties": [
                            "name": ["type": "string"],
                            "message": ["type": "string"],
                            "code": ["type": ["string", "number", "null"]],
                            "details": [
                                "type": ["array", "object", "null"],
                                "description": "For a ValidationError, one {message, path, type} per failed rule",
                            ],
                        ],
                    ]
                ],
                "responses": .object(Self.errorResponses),
            ],
        ]
    }

    /// One operation of the document.
    func operation(for route: GatewayRoute) -> JSONValue {
        let schema = route.isGenericAct ? nil : catalog.action(for: route.pattern)?.requestSchema
        var operation: [String: JSONValue] = [
            "operationId": .string(
                route.isGenericAct ? "act" : route.method.rawValue.lowercased() + "_" + route.operationId
            ),
            "summary": .string(route.summary.isEmpty ? "Calls \(Pattern(route.pattern).description)" : route.summary),
        ]
        if !route.pattern.isEmpty {
            operation["description"] = .string("Calls the pattern `\(Pattern(route.pattern).description)` with `act`.")
        }
        let names = route.parameterNames
        if !names.isEmpty {
            operation["parameters"] = .array(
                names.map { name in
                    [
                        "name": .string(name),
                        "in": "path",
                        "required": true,
                        "schema": parameterSchema(name, route: route, requestSchema: schema),
                    ]
                }
            )
        }
        var responses: [String: JSONValue] = [
            "200": ["description": "The action's result", "content": Self.jsonContent([:])]
        ]
        var statuses = ["400", "404", "500", "503", "504"]
        if case .object(let required) = route.body {
            operation["requestBody"] = [
                "required": .bool(required),
                "content": Self.jsonContent(bodySchema(for: route, requestSchema: schema)),
            ]
            statuses += ["413", "415"]
        }
        for status in statuses { responses[status] = ["$ref": .string("#/components/responses/\(status)")] }
        operation["responses"] = .object(responses)
        return .object(operation)
    }

    /// A path parameter's schema: its property in the request schema, else its route type.
    func parameterSchema(_ name: String, route: GatewayRoute, requestSchema: JSONValue?) -> JSONValue {
        if let property = requestSchema?["properties"]?[name] { return property }
        switch route.parameterTypes[name] ?? .string {
        case .integer: return ["type": "integer"]
        case .string: return ["type": "string"]
        }
    }

    /// The body's schema: the request schema less the keys the route sets (fixed keys, path
    /// parameters); a plain object when no service described the action.
    func bodySchema(for route: GatewayRoute, requestSchema: JSONValue?) -> JSONValue {
        guard case .object(var schema)? = requestSchema else {
            return ["type": "object", "description": "The rest of the pattern"]
        }
        let setByRoute = Set(route.pattern.keys).union(route.parameterNames)
        schema["$schema"] = nil
        schema["$id"] = nil
        if case .object(var properties)? = schema["properties"] {
            for key in setByRoute { properties[key] = nil }
            schema["properties"] = .object(properties)
        }
        if case .array(let required)? = schema["required"] {
            let kept = required.filter { !setByRoute.contains($0.stringValue ?? "") }
            schema["required"] = kept.isEmpty ? nil : .array(kept)
        }
        return .object(schema)
    }

    static func jsonContent(_ schema: JSONValue) -> JSONValue {
        ["application/json": ["schema": schema]]
    }

    /// The reusable error responses, by status.
    static let errorResponses: [String: JSONValue] = {
        let described: [(String, String)] = [
            ("400", "ValidationError (with details), or a body that is not a JSON object"),
            ("404", "NotFound, PatternNotFound, or no such route"),
            ("413", "The body is larger than the gateway takes"),
            ("415", "The body is not application/json"),
            ("500", "Any other error; internal failures are answered as InternalError"),
            ("503", "NoRespondersError, or OverloadedError with Retry-After"),
            ("504", "TimeoutError"),
        ]
        var responses: [String: JSONValue] = [:]
        for (status, text) in described {
            var response: [String: JSONValue] = [
                "description": .string(text),
                "content": jsonContent(["$ref": "#/components/schemas/Error"]),
            ]
            if status == "503" {
                response["headers"] = [
                    "Retry-After": [
                        "description": "Seconds to wait before retrying (OverloadedError only)",
                        "schema": ["type": "integer"],
                    ]
                ]
            }
            responses[status] = .object(response)
        }
        return responses
    }()

    /// Whether `text` can stand as one path segment as it is.
    static func isPathSegment(_ text: String) -> Bool {
        !text.isEmpty
            && text.utf8.allSatisfy { byte in
                (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z"))
                    || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
                    || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")) || byte == UInt8(ascii: "-")
                    || byte == UInt8(ascii: "_") || byte == UInt8(ascii: ".")
            }
    }
}
