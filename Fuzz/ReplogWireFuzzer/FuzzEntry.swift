@main enum Fuzz { static func main() {} }
