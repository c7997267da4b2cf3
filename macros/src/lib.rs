//! `#[gort::test]`: the attribute macro behind gort's test modes. Re-exported by `gort` as
//! `gort::test`; its documentation (with examples) is there. Built with syn and quote, the
//! standard tools for attribute macros (tokio's `#[tokio::test]` is made the same way).

use proc_macro::TokenStream;
use proc_macro2::Span;
use quote::quote;
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{Error, Ident, ItemFn, LitInt, ReturnType, Token};

/// One `key` or `key = value` of the attribute.
struct Arg {
    key: Ident,
    value: Option<LitInt>,
}

impl Parse for Arg {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let key: Ident = input.parse()?;
        let value = if input.peek(Token![=]) {
            input.parse::<Token![=]>()?;
            Some(input.parse()?)
        } else {
            None
        };
        Ok(Arg { key, value })
    }
}

/// What the attribute asks for.
enum Mode {
    /// Run the body in a green thread.
    Plain,
    /// Run it in a synctest bubble.
    Synctest,
    /// Explore N schedules (PCT of `pct` depth, else random), from `seed` if given.
    Explore {
        n: LitInt,
        pct: Option<LitInt>,
        seed: Option<LitInt>,
    },
}

fn parse_mode(args: Punctuated<Arg, Token![,]>) -> syn::Result<Mode> {
    let mut synctest = false;
    let mut explore = None;
    let mut pct = None;
    let mut seed = None;
    for a in args {
        let name = a.key.to_string();
        match (name.as_str(), a.value) {
            ("synctest", None) => synctest = true,
            ("explore", Some(v)) => explore = Some(v),
            ("pct", Some(v)) => pct = Some(v),
            ("seed", Some(v)) => seed = Some(v),
            ("explore" | "pct" | "seed", None) => {
                return Err(Error::new(
                    a.key.span(),
                    format!("`{name}` needs a number: `{name} = 1000`"),
                ))
            }
            ("synctest", Some(v)) => return Err(Error::new(v.span(), "`synctest` takes no value")),
            _ => {
                return Err(Error::new(
                    a.key.span(),
                    format!(
                        "unknown option `{name}`: #[gort::test] takes nothing, `synctest`, or \
                         `explore = N` (with `pct = DEPTH` and `seed = S` if wanted)"
                    ),
                ))
            }
        }
    }
    match (synctest, explore) {
        (true, Some(n)) => Err(Error::new(
            n.span(),
            "`explore` runs the body in a synctest bubble already: drop `synctest`",
        )),
        (_, Some(n)) => Ok(Mode::Explore { n, pct, seed }),
        (true, None) if pct.is_some() || seed.is_some() => Err(Error::new(
            Span::call_site(),
            "`pct` and `seed` go with `explore = N`",
        )),
        (true, None) => Ok(Mode::Synctest),
        (false, None) if pct.is_some() || seed.is_some() => Err(Error::new(
            Span::call_site(),
            "`pct` and `seed` go with `explore = N`",
        )),
        (false, None) => Ok(Mode::Plain),
    }
}

/// See `gort::test`.
#[proc_macro_attribute]
pub fn test(attr: TokenStream, item: TokenStream) -> TokenStream {
    let args = match syn::parse::Parser::parse(Punctuated::<Arg, Token![,]>::parse_terminated, attr)
    {
        Ok(a) => a,
        Err(e) => return e.to_compile_error().into(),
    };
    let f = match syn::parse::<ItemFn>(item) {
        Ok(f) => f,
        Err(e) => return e.to_compile_error().into(),
    };
    match expand(args, f) {
        Ok(t) => t.into(),
        Err(e) => e.to_compile_error().into(),
    }
}

fn expand(args: Punctuated<Arg, Token![,]>, f: ItemFn) -> syn::Result<proc_macro2::TokenStream> {
    let mode = parse_mode(args)?;
    let sig = &f.sig;
    if sig.asyncness.is_some() {
        return Err(Error::new_spanned(
            sig.asyncness,
            "#[gort::test] functions are plain functions: gort's green threads block instead of \
             awaiting",
        ));
    }
    if !sig.inputs.is_empty() {
        return Err(Error::new_spanned(
            &sig.inputs,
            "a test function takes no arguments",
        ));
    }
    if !sig.generics.params.is_empty() {
        return Err(Error::new_spanned(
            &sig.generics,
            "a test function is not generic",
        ));
    }
    let attrs = &f.attrs;
    let vis = &f.vis;
    let name = &sig.ident;
    let body = &f.block;
    let ret = match &sig.output {
        ReturnType::Default => quote!(()),
        ReturnType::Type(_, t) => quote!(#t),
    };
    let out = match mode {
        Mode::Plain => {
            // The test function keeps its return type (libtest reports an `Err`).
            let output = &sig.output;
            quote! {
                #[::core::prelude::v1::test]
                #(#attrs)*
                #vis fn #name() #output {
                    ::gort::__private::run_in_g(move || -> #ret #body)
                }
            }
        }
        Mode::Synctest => quote! {
            #[::core::prelude::v1::test]
            #(#attrs)*
            #vis fn #name() {
                ::gort::synctest::test(move || -> #ret #body)
            }
        },
        Mode::Explore { n, pct, seed } => {
            let strategy = match pct {
                Some(d) => quote!(.strategy(::gort::synctest::Strategy::Pct { depth: #d })),
                None => quote!(),
            };
            let seed = match seed {
                Some(s) => quote!(.seed(#s)),
                None => quote!(),
            };
            quote! {
                #[::core::prelude::v1::test]
                #(#attrs)*
                #vis fn #name() {
                    ::gort::synctest::explore(
                        ::gort::synctest::ExploreOptions::default()
                            .iterations(#n)
                            #strategy
                            #seed,
                        || -> #ret #body,
                    );
                }
            }
        }
    };
    Ok(out)
}
