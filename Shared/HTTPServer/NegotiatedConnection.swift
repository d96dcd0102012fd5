import NIOCore
import NIOHTTP2
import NIOHTTPTypes

typealias HTTPStreamChannel = NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>

/// The protocol a connection settled on, with the async channels the request loop consumes.
enum NegotiatedConnection: Sendable {
    case http1(HTTPStreamChannel)
    case http2(connection: any Channel, streams: NIOHTTP2Handler.AsyncStreamMultiplexer<HTTPStreamChannel>)
}
