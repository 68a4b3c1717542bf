//! Built against a hypothetical `openpista:plugin@0.3.0` whose `tools`
//! interface changed shape. The host must refuse it before instantiation
//! with a message naming both versions.

wit_bindgen::generate!({
    inline: "
        package openpista:plugin@0.3.0;

        interface host {
            log: func(message: string);
        }

        interface tools {
            list-tools: func() -> list<string>;
            invoke: func(name: string, input: list<u8>) -> result<string, string>;
        }

        world tool {
            import host;
            export tools;
        }
    ",
});

use exports::openpista::plugin::tools::Guest;

struct Future;

impl Guest for Future {
    fn list_tools() -> Vec<String> {
        openpista::plugin::host::log("listing");
        vec!["future.tool".into()]
    }

    fn invoke(name: String, _input: Vec<u8>) -> Result<String, String> {
        Ok(name)
    }
}

export!(Future);
