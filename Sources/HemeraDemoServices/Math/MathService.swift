public import Hemera

/// The `math` service: ``Add``, ``Multiply``, ``Divide``.
public enum MathService {
    /// Registers every action of the service, in one place.
    public static func register(on hemera: Hemera) throws {
        try hemera.add(AddAction())
        try hemera.add(MultiplyAction())
        try hemera.add(DivideAction())
    }
}
