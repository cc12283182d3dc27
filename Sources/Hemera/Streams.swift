/// How a stream of replies of unknown length ends between Swift peers.
///
/// Hemera 7 has no end-of-stream message: a caller of a streaming action stops at `maxMessages$`,
/// `expectedMessages$`, or when its timeout passes. Between Swift peers the stream ends as soon as
/// the handler returns:
/// - a Swift caller's ``Hemera/actMany(_:meta:delegate:timeout:maxMessages:expectedMessages:)``
///   sends the NATS header ``requestHeader`` (`Hemera-Stream: end`);
/// - a Swift service whose streaming handler returns sends, after its last reply, the end marker
///   ``endMarker`` (`{"stream$":"end"}`) to that caller only;
/// - the caller's sequence finishes when the marker arrives (never yielding it).
///
/// A Node Hemera caller sends no header and gets no marker; a Node service sends no marker, and a
/// Swift caller's stream then ends by count or timeout, as with Hemera.
enum HemeraStream {
    /// The request header that asks for an end marker.
    static let requestHeader = "Hemera-Stream"
    /// Its value.
    static let requestHeaderValue = "end"
    /// The message that ends a stream: a JSON object no reply envelope can be.
    static let endMarker: [UInt8] = Array(#"{"stream$":"end"}"#.utf8)
}

extension Hemera {
    /// After a streaming handler returned: the end marker, when the caller asked for one.
    func endStream(context: HemeraContext) throws {
        guard let replyTo = context.replyTo else { return }
        guard context.requestHeaderStorage[HemeraStream.requestHeader] == HemeraStream.requestHeaderValue else {
            return
        }
        try transport.publish(to: replyTo, payload: HemeraStream.endMarker, replyTo: nil)
    }
}
