public enum _PlaceholderWorkflow {}
