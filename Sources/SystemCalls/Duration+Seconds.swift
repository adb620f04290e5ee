extension Duration {
    /// The duration in seconds as a `Double` (for metrics and `Thread.sleep`), from its two
    /// components: whole seconds and attoseconds (10⁻¹⁸ s).
    public var inSeconds: Double {
        Double(self.components.seconds) + Double(self.components.attoseconds) / 1e18
    }
}
