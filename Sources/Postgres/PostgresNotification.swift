/// One `NOTIFY` received on a channel the connection listens on.
public struct PostgresNotification: Sendable, Hashable {
    /// The channel's name.
    public let channel: String
    /// The payload ("" if none was given).
    public let payload: String
    /// The server process id of the connection that sent it: compare with
    /// `PostgresConnection.backendProcessID` to recognise one's own.
    public let processID: Int32

    /// Creates a notification.
    public init(channel: String, payload: String, processID: Int32) {
        self.channel = channel
        self.payload = payload
        self.processID = processID
    }
}
